"""A Coach job: on one host, the preset trains there; on several (distributed Coach), the head
host trains (distributed_trainer.py) while every host plays rollouts for it (cluster.py)."""

from __future__ import annotations

from typing import Optional

from sagemaker_rl_container import hosts, source_dir
from sagemaker_rl_container.coach import cluster, preset
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.distributed_trainer import DistributedCoachTrainer
from sagemaker_rl_container.coach.trainer import CoachTrainer
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.lifecycle import Job, JobSettings, TrainingSummary


def run(contract: TrainingContract, config: CoachConfig) -> Optional[TrainingSummary]:
    """Train; on a host that only plays rollouts, return None once the head is done."""
    settings = JobSettings(
        config.checkpoint_frequency,
        config.checkpoint_keep,
        checkpoint_seconds=config.checkpoint_seconds,
    )
    if not contract.is_distributed:
        trainer = CoachTrainer(contract, config, preset.prepare(contract, config))
        return Job(contract, trainer, settings).run()
    nodes = hosts.layout(contract, config.head_instance_group)
    if not nodes.is_head:
        # An entry script on a launcher run by the SDK's own driver on a rollout host (the
        # image's `train` sends rollout hosts to cluster.run_worker_host before any script).
        source_dir.prepare(contract)
        cluster.run_worker_host(contract, nodes, config.cluster_timeout)
        return None
    # Redis first: the other hosts learn of a failure from here on (a bad preset included).
    head = cluster.Head(contract, config, nodes)
    try:
        graph_manager = preset.prepare(contract, config)
        trainer = DistributedCoachTrainer(contract, config, graph_manager, head)
        summary = Job(contract, trainer, settings).run()
    except BaseException as error:
        head.finish(error)
        raise
    head.finish(None)
    return summary
