"""A Coach job in one of three modes, each its own adapter on the job lifecycle:

one host       the preset trains here (trainer.py: CoachTrainer)
the head       of a distributed job: Redis, rollout workers and Coach's training worker
               (distributed_head.py, distributed_trainer.py)
a rollout host of a distributed job: plays for the head and ends with it (rollout_host.py)
"""

from __future__ import annotations

from typing import Optional

from sagemaker_rl_container import hosts, source_dir
from sagemaker_rl_container.coach import distributed_head, preset, rollout_host
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.trainer import CoachTrainer
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.lifecycle import Job, JobSettings, TrainingSummary


def run(contract: TrainingContract, config: CoachConfig) -> Optional[TrainingSummary]:
    """Train; on a host that only plays rollouts, return None once the head is done."""
    source = source_dir.prepare(contract)  # the preset's own modules, `module:Class` envs
    settings = JobSettings(
        config.checkpoint_frequency,
        config.checkpoint_keep,
        checkpoint_seconds=config.checkpoint_seconds,
    )
    if not contract.is_distributed:
        trainer = CoachTrainer(contract, config, preset.prepare(contract, config, source))
        return Job(contract, trainer, settings).run()
    nodes = hosts.layout(contract, config.head_instance_group)
    if nodes.is_head:
        return distributed_head.run(contract, config, source, nodes, settings)
    # An entry script on a launcher run by the SDK's own driver on a rollout host (the
    # image's `train` sends rollout hosts to rollout_host.run before any script).
    rollout_host.run(contract, nodes, config.cluster_timeout)
    return None
