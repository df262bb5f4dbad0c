"""Which host leads a multi-host job, read from resourceconfig (never assumed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib.cluster import layout


def contract(current: str, hosts: list[str], groups: dict[str, list[str]]) -> TrainingContract:
    base = Path("/opt/ml")
    return TrainingContract(
        base_dir=base,
        model_dir=base / "model",
        output_dir=base / "output",
        output_data_dir=base / "output/data",
        checkpoint_dir=base / "checkpoints",
        code_dir=base / "code",
        channels={},
        current_host=current,
        hosts=hosts,
        network_interface="eth0",
        num_cpus=4,
        num_gpus=0,
        hyperparameters={},
        instance_groups=groups,
    )


def test_first_host_leads_a_homogeneous_job():
    nodes = layout(contract("algo-2", ["algo-1", "algo-2", "algo-3"], {}), None)
    assert (nodes.head, nodes.workers, nodes.is_head) == ("algo-1", ["algo-2", "algo-3"], False)


def test_named_instance_group_leads_a_heterogeneous_job():
    groups = {"rollouts": ["algo-1", "algo-2"], "learner": ["algo-3"]}
    nodes = layout(contract("algo-3", ["algo-1", "algo-2", "algo-3"], groups), "learner")
    assert nodes.head == "algo-3" and nodes.is_head
    assert nodes.workers == ["algo-1", "algo-2"]


def test_unknown_head_group_is_named():
    groups = {"rollouts": ["algo-1"], "learner": ["algo-2"]}
    with pytest.raises(
        UserError,
        match=r"rl_head_instance_group 'gpu' is not an instance group "
        r"of this job \(groups: learner, rollouts\)",
    ):
        layout(contract("algo-1", ["algo-1", "algo-2"], groups), "gpu")
