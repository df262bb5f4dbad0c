"""One rollout worker of a distributed Coach job, in its own process:
`python -m sagemaker_rl_container.coach.rollout`, started by its host's `train` process
(rollout_workers.py).

It builds the preset's graph from the newest policy, plays its share of each playing period,
sends what its memory stores to the trainer, and loads each new policy: before playing again
when the agent learns on-policy (SYNC), whenever one is there when it learns off-policy (ASYNC).
It ends when the head reports the outcome; a failure is reported to the head in one line.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from sagemaker_rl_container import hosts, source_dir
from sagemaker_rl_container.coach import data_store, display, distributed_preset, preset
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.rollout_workers import HEAD_ENV, ROLLOUT_ENV
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import JobFailed, UserError

logger = logging.getLogger(__name__)


class Finished(Exception):
    """The head reported the outcome: stop playing."""


class RolloutWorker:
    def __init__(
        self,
        contract: TrainingContract,
        config: CoachConfig,
        connection: Any,
        worker: str,
        head_ip: str,
    ) -> None:
        self.contract = contract
        self.config = config
        self.connection = connection
        self.worker = worker
        self.head_ip = head_ip
        self.scratch = Path(tempfile.mkdtemp(prefix="sagemaker-rl-rollout-"))
        self.policy_dir = self.scratch / "policy"
        self.version = 0
        self.deadline = time.monotonic() + config.cluster_timeout

    def run(self) -> None:
        from rl_coach.base_parameters import DistributedCoachSynchronizationType, RunType
        from rl_coach.core_types import RunPhase

        from sagemaker_rl_container.coach.trainer import task_parameters

        gm = preset.prepare(self.contract, self.config, source_dir.prepare(self.contract))
        if display.needs_display(gm):
            # The head's rollout workers share its trainer's display (DISPLAY is set); the
            # other hosts' start one each, numbered after the head's.
            index = int(self.worker.rsplit("/", 1)[1])
            display.VirtualDisplay(display.DISPLAY_NUMBER + 1 + index).start()
        sync = distributed_preset.synchronization(gm, self.config.preset)
        distributed_preset.configure(gm, str(RunType.ROLLOUT_WORKER), self.head_ip, sync)
        self._wait(lambda: data_store.policy_version(self.connection) > 0, "the first policy")
        self.version = data_store.fetch_policy(self.connection, self.policy_dir)
        gm.create_graph(
            task_parameters(
                self.contract,
                self.config,
                experiment=self.scratch / "experiment",
                checkpoint_dir=self.scratch / "checkpoint",
                restore=self.policy_dir,
            )
        )
        agents = [a for level in gm.level_managers for a in level.agents.values()]
        for agent in agents:
            agent.memory.set_memory_backend(
                data_store.experience_backend(self.connection, self.worker, lambda: self.version)
            )
        self._report_episodes(gm, agents[0])
        workers = len(self.contract.hosts) * self.config.rollout_workers_per_host
        algorithm = gm.agent_params.algorithm
        # Coach's own rollout worker divides each playing period between the workers.
        share = algorithm.num_consecutive_playing_steps / workers
        synchronous = sync == DistributedCoachSynchronizationType.SYNC
        # Off-policy: keep playing while the trainer keeps up; wait when it falls behind.
        backlog = max(200, 10 * share.num_steps * workers)
        logger.info(
            "Rollout worker %s plays %s %s per round, policy version %d (%s)",
            self.worker,
            share.num_steps,
            type(share).__name__,
            self.version,
            sync.name,
        )
        try:
            with gm.phase_context(RunPhase.TRAIN):
                # The first episode's start, as Coach's heatup would (act() expects one).
                gm.reset_internal_state(force_environment_reset=True)
                while True:
                    self._check_outcome()
                    if not synchronous:
                        self._wait(
                            lambda: self.connection.llen(data_store.EXPERIENCE) <= backlog, None
                        )
                    gm.act(share, wait_for_full_episodes=algorithm.act_for_full_episodes)
                    for agent in agents:
                        agent.memory.clean()  # sent to the trainer; this worker never trains
                    if synchronous:
                        self._wait(
                            lambda: data_store.policy_version(self.connection) > self.version, None
                        )
                    if data_store.policy_version(self.connection) > self.version:
                        self.version = data_store.fetch_policy(self.connection, self.policy_dir)
                        gm.restore_checkpoint()
        except Finished:
            logger.info("Rollout worker %s: training ended, this worker stops", self.worker)
        finally:
            display.close_environments(gm)
            shutil.rmtree(self.scratch, ignore_errors=True)

    def _report_episodes(self, gm: Any, agent: Any) -> None:
        handle_episode_ended = gm.handle_episode_ended

        def episode_ended() -> None:
            data_store.report_episode(
                self.connection,
                self.worker,
                agent.total_reward_in_current_episode,
                agent.current_episode_steps_counter,
            )
            handle_episode_ended()

        gm.handle_episode_ended = episode_ended

    def _check_outcome(self) -> None:
        if data_store.read_outcome(self.connection) is not None:
            raise Finished()

    def _wait(self, ready: Callable[[], bool], what: str | None) -> None:
        """Until `ready()`; ends with the outcome; `what` names a wait that has a deadline."""
        while not ready():
            self._check_outcome()
            if what is not None and time.monotonic() > self.deadline:
                raise UserError(
                    f"rollout worker {self.worker} waited {self.config.cluster_timeout:g} s "
                    f"(rl_cluster_timeout) for {what} from the trainer"
                )
            time.sleep(0.05)


def main() -> int:
    from sagemaker_rl_container.training_program import configure_logging

    configure_logging()
    worker = os.environ[ROLLOUT_ENV]
    connection = None
    try:
        contract = TrainingContract.from_environment()
        head_ip = hosts.resolve(os.environ[HEAD_ENV], time.monotonic() + 60, "head")
        secret = data_store.password(contract)
        data_store.use_password(secret)
        connection = data_store.connect(head_ip, secret)
        config = data_store.read_config(connection)
        if config is None:
            raise UserError("the head's Redis holds no job config: the head host restarted")
        heartbeat = data_store.Heartbeat(connection, worker)
        try:
            RolloutWorker(contract, config, connection, worker, head_ip).run()
        finally:
            heartbeat.stop()
        return 0
    except Exception as error:
        if not isinstance(error, UserError):
            logger.exception("Rollout worker %s failed", worker)
            error = JobFailed.from_exception(error)
        logger.error("Rollout worker %s failed: %s", worker, error)
        if connection is not None:
            with contextlib.suppress(Exception):
                data_store.report_failure(connection, worker, str(error))
        return 1


if __name__ == "__main__":
    sys.exit(main())
