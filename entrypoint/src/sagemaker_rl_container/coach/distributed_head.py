"""The head host of a distributed Coach job: the job's Redis (up first, so the other hosts learn
of any failure, a bad preset's included), its own rollout workers, the wait for every host's to
join, their health while the trainer (distributed_trainer.py) trains on the job lifecycle, and
the outcome every host ends on."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Optional

from sagemaker_rl_container import hosts
from sagemaker_rl_container.coach import data_store, preset, rollout_workers
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.distributed_trainer import DistributedCoachTrainer
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.lifecycle import Job, JobSettings, TrainingSummary

logger = logging.getLogger(__name__)


def run(
    contract: TrainingContract,
    config: CoachConfig,
    source: Optional[Path],
    nodes: hosts.Layout,
    settings: JobSettings,
) -> TrainingSummary:
    head = Head(contract, config, nodes)
    try:
        graph_manager = preset.prepare(contract, config, source)
        trainer = DistributedCoachTrainer(contract, config, graph_manager, head)
        summary = Job(contract, trainer, settings).run()
    except BaseException as error:
        head.finish(error)
        raise
    head.finish(None)
    return summary


class Head:
    """The head host's part around its trainer: Redis, rollout workers, their health."""

    def __init__(self, contract: TrainingContract, config: CoachConfig, nodes: hosts.Layout):
        self.contract = contract
        self.config = config
        self.nodes = nodes
        self.started = time.monotonic()
        self.deadline = self.started + config.cluster_timeout
        self.secret = data_store.password(contract)
        self.ip = hosts.node_ip(contract, self.deadline)
        self.directory = Path(os.environ.get("TMPDIR", "/tmp")) / "sagemaker-rl-coach-head"
        self.server = data_store.RedisServer(
            self.ip,
            self.secret,
            self.directory / "redis",
            contract.output_data_dir / "redis-server.log",
        )
        self.connection = self.server.connection
        data_store.write_config(self.connection, config)
        self.workers = rollout_workers.worker_ids(nodes, config.rollout_workers_per_host)
        self.processes: rollout_workers.Processes = []

    def start_rollouts(self) -> None:
        """This host's rollout workers, then the wait for every host's to join."""
        local = rollout_workers.on_host(self.workers, self.nodes.head)
        self.processes = rollout_workers.spawn(local, self.nodes.head)
        last_report = 0.0
        while True:
            present = data_store.joined(self.connection)
            problem = self.problem()
            if problem:
                raise UserError(problem)
            if present >= set(self.workers):
                break
            if time.monotonic() > self.deadline:
                missing = sorted(set(self.workers) - present)
                raise UserError(
                    f"rollout workers {', '.join(missing)} did not join within "
                    f"{self.config.cluster_timeout:g} s (rl_cluster_timeout); {len(present)} of "
                    f"{len(self.workers)} joined"
                )
            if time.monotonic() - last_report > 10:
                logger.info(
                    "Waiting for rollout workers to join: %d of %d", len(present), len(self.workers)
                )
                last_report = time.monotonic()
            time.sleep(0.2)
        logger.info(
            "Distributed Coach ready: %d rollout workers on %d hosts (%s) %.1f s after the head "
            "started",
            len(self.workers),
            len(self.contract.hosts),
            ", ".join(self.contract.hosts),
            time.monotonic() - self.started,
        )

    def problem(self) -> Optional[str]:
        """Why training cannot go on (a rollout worker lost), or None."""
        if not self.server.alive():
            return f"this job's redis-server stopped (exit status {self.server.process.poll()})"
        lost = data_store.lost_workers(self.connection)
        if lost:
            return f"{lost[0]}; a checkpoint was saved, restart the job to resume"
        for worker, process in self.processes:
            if process.poll() is not None:
                return (
                    f"rollout worker {worker} exited (status {process.returncode}); a checkpoint "
                    f"was saved, restart the job to resume"
                )
        return None

    def finish(self, error: Optional[BaseException], linger_s: float = 15) -> None:
        """Publish the outcome, stop this host's rollout workers, and give the other hosts a
        moment to read it."""
        if error is None:
            outcome = {"state": "succeeded"}
        else:
            from sagemaker_rl_container.errors import summarize

            reason = str(error) if isinstance(error, UserError) else summarize(error)
            outcome = {"state": "failed", "reason": reason}
        try:
            data_store.publish_outcome(self.connection, outcome)
        except Exception as failure:
            logger.warning("Could not publish the outcome to the rollout workers: %s", failure)
            return
        rollout_workers.stop(self.processes, wait_s=30)
        remote = [
            w
            for w in self.workers
            if w not in rollout_workers.on_host(self.workers, self.nodes.head)
        ]
        deadline = time.monotonic() + linger_s
        while time.monotonic() < deadline:
            try:
                if data_store.acknowledged(self.connection) >= len(remote):
                    break
            except Exception:
                break
            time.sleep(0.2)
