"""The head host's part of distributed Coach: Coach's training worker on the job lifecycle.

The loop is Coach 1.0's `training_worker`: take a playing period's experience from the rollout
workers, train, publish the policy; evaluate every `steps_between_evaluation_periods` (one
iteration, as on one host). Checkpoints, SIGTERM, metrics and export are the single-host
trainer's (trainer.py); the rollout workers report the training episodes' returns.
"""

from __future__ import annotations

import logging
import os
import pickle
import time
from collections import Counter
from typing import Any, Optional, Protocol

from sagemaker_rl_container import signals
from sagemaker_rl_container.coach import data_store, distributed_preset
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.trainer import CoachTrainer
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.metrics import IterationMetrics
from sagemaker_rl_container.toolkit import IterationDone


class Head(Protocol):
    """What the trainer uses of the head host (distributed_head.Head)."""

    ip: str
    secret: str
    connection: Any  # the job's Redis (data_store.py)

    def start_rollouts(self) -> None: ...

    def problem(self) -> Optional[str]: ...


logger = logging.getLogger(__name__)

# ASYNC (off-policy) trainers: publish the policy at most this often.
POLICY_EVERY_S = float(os.environ.get("SAGEMAKER_RL_POLICY_EVERY", 2))


class DistributedCoachTrainer(CoachTrainer):
    plays_training_episodes = False

    def __init__(
        self,
        contract: TrainingContract,
        config: CoachConfig,
        graph_manager: Any,
        head: Head,
    ) -> None:
        super().__init__(contract, config, graph_manager)
        from rl_coach.base_parameters import DistributedCoachSynchronizationType, RunType

        self.head = head
        self.sync = distributed_preset.synchronization(graph_manager, config.preset)
        self.synchronous = self.sync == DistributedCoachSynchronizationType.SYNC
        data_store.use_password(head.secret)
        distributed_preset.configure(graph_manager, str(RunType.TRAINER), head.ip, self.sync)
        self.version = 0
        self.stale = 0  # experience played with an older policy, discarded (SYNC)
        self.interrupted = False

    def start(self) -> None:
        super().start()
        self.head.start_rollouts()

    def check_health(self) -> None:
        problem = self.head.problem()
        if problem:
            raise UserError(problem)

    # -- the training worker

    def train(self, iteration_done: IterationDone) -> str:
        from rl_coach.core_types import RunPhase

        self.iteration_done = iteration_done
        gm = self.gm
        started_at = self.iteration
        gm.memory_backend = self  # fetch_from_worker() takes experience from fetch() below
        playing = gm.agent_params.algorithm.num_consecutive_playing_steps
        counters = gm.total_steps_counters[RunPhase.TRAIN]
        improve = gm.improve_steps
        end = counters[type(improve)] + improve.num_steps
        between = gm.steps_between_evaluation_periods
        next_evaluation = counters[type(between)] + between.num_steps
        self._publish()
        published_at = time.monotonic()
        while counters[type(improve)] < end:
            gm.phase = RunPhase.TRAIN
            gm.fetch_from_worker(playing)
            gm.phase = RunPhase.UNDEFINED
            if self.interrupted:
                # SIGTERM or a lost worker: the lifecycle checkpoints and stops at once.
                self.interrupted = False
                if self._end_iteration(reached=False):
                    break
                continue
            trained = gm.should_train()
            if trained:
                gm.train()
            # On-policy workers wait for each new policy: publish after every period, trained
            # or not, so they never wait for one that will not come.
            if self.synchronous or (trained and time.monotonic() - published_at >= POLICY_EVERY_S):
                self._publish()
                published_at = time.monotonic()
            if counters[type(between)] >= next_evaluation:
                next_evaluation = counters[type(between)] + between.num_steps
                if gm.evaluate(gm.evaluation_steps):
                    break
        return self._why_stopped(started_at)

    def fetch(self, num_consecutive_playing_steps: Any = None) -> Any:
        """Coach's MemoryBackend.fetch for `fetch_from_worker`: the transitions of the next
        playing period, as Coach's RedisSub counts it (steps or episodes). Returns early on
        SIGTERM or a lost rollout worker (`interrupted`)."""
        from rl_coach.core_types import EnvironmentEpisodes, Episode, Transition

        by_episodes = isinstance(num_consecutive_playing_steps, EnvironmentEpisodes)
        wanted = num_consecutive_playing_steps.num_steps
        counted = 0
        last_check = time.monotonic()
        while counted < wanted:
            if signals.requested():
                self.interrupted = True
                return
            item = self.head.connection.blpop(data_store.EXPERIENCE, timeout=1)
            if item is None or time.monotonic() - last_check > 2:
                last_check = time.monotonic()
                if self.head.problem():
                    self.interrupted = True
                    return
                if item is None:
                    continue
            version, _, obj = pickle.loads(item[1])
            if self.synchronous and version < self.version:
                self.stale += 1
                continue
            if isinstance(obj, Episode):
                counted += 1 if by_episodes else len(obj.transitions)
                yield from obj.transitions
            elif isinstance(obj, Transition):
                counted += int(bool(obj.game_over)) if by_episodes else 1
                yield obj

    def _publish(self) -> None:
        name, files = self.save_coach_checkpoint()
        self.version += 1
        data_store.publish_policy(self.head.connection, name, files, self.version)

    # -- metrics: the training episodes the rollout workers played

    def _metrics(self) -> IterationMetrics:
        episodes = data_store.take_episodes(self.head.connection)
        for _, total_reward, length in episodes:
            self.episodes.train.append((total_reward, length))
        per_worker = Counter(worker for worker, _, _ in episodes)
        logger.info(
            "Rollout episodes this iteration: %s%s",
            ", ".join(f"{w} x{n}" for w, n in sorted(per_worker.items())) or "none",
            f" ({self.stale} transitions or episodes of older policies discarded)"
            if self.stale
            else "",
        )
        self.stale = 0
        return super()._metrics()
