"""Which host leads a multi-host job, read from resourceconfig (never assumed)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.hosts import layout


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


def test_the_status_endpoint_answers_only_with_the_jobs_token(monkeypatch):
    import json
    import socket
    import urllib.error
    import urllib.request

    from sagemaker_rl_container.ray_rllib import cluster

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(cluster, "STATUS_PORT", port)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "the-jobs-token")
    status = cluster.HeadStatus("127.0.0.1", expected_readers=1)
    try:
        url = f"http://127.0.0.1:{port}/status"
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(url, headers={"Authorization": "Bearer guess"}), timeout=5
            )
        assert refused.value.code == 401
        with urllib.request.urlopen(
            urllib.request.Request(url, headers={"Authorization": "Bearer the-jobs-token"}),
            timeout=5,
        ) as answer:
            assert json.loads(answer.read())["state"] == "running"
        assert cluster._read_status(url, "algo-2") == {"state": "running", "ray_ready": False}
    finally:
        status.server.shutdown()


def test_every_host_derives_the_same_token_and_another_job_another(monkeypatch):
    import os

    from sagemaker_rl_container.ray_rllib import cluster

    def token(contract):
        monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
        cluster.configure_auth(contract)
        return os.environ["RAY_AUTH_TOKEN"]

    head = contract("algo-1", ["algo-1", "algo-2"], {})
    worker = contract("algo-2", ["algo-1", "algo-2"], {})
    assert token(head) == token(worker) and len(token(head)) == 64
    other_job = dataclasses.replace(head, job_name="another-job")
    assert token(other_job) != token(head)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "users-own")
    cluster.configure_auth(head)
    assert os.environ["RAY_AUTH_TOKEN"] == "users-own"


def test_a_coach_rollout_host_reads_the_head_and_timeout_from_raw_hyperparameters():
    # Script mode maps its own names: a rollout host reads only the rl_ settings it needs, as
    # the SDK encodes them (JSON strings).
    from sagemaker_rl_container.coach import rollout_host, rollout_workers

    groups = {"rollouts": ["algo-1"], "learner": ["algo-2"]}
    job = dataclasses.replace(
        contract("algo-1", ["algo-1", "algo-2"], groups),
        hyperparameters={
            "rl_head_instance_group": '"learner"',
            "rl_cluster_timeout": "60",
            "playing_periods": "4",
        },
    )
    nodes, timeout_s = rollout_host.settings(job)
    assert (nodes.head, nodes.is_head, timeout_s) == ("algo-2", False, 60.0)
    assert rollout_workers.worker_ids(nodes, 2) == ["algo-2/0", "algo-2/1", "algo-1/0", "algo-1/1"]
    bad = dataclasses.replace(job, hyperparameters={"rl_cluster_timeout": "soon"})
    with pytest.raises(UserError, match=r"^hyperparameter rl_cluster_timeout='soon' is invalid"):
        rollout_host.settings(bad)


def test_every_coach_host_derives_the_same_redis_password_and_another_job_another(monkeypatch):
    from sagemaker_rl_container.coach import data_store

    monkeypatch.delenv(data_store.PASSWORD_ENV, raising=False)
    head = contract("algo-1", ["algo-1", "algo-2"], {})
    worker = contract("algo-2", ["algo-1", "algo-2"], {})
    assert data_store.password(head) == data_store.password(worker)
    other_job = dataclasses.replace(head, job_name="another")
    assert data_store.password(other_job) != data_store.password(head)
    monkeypatch.setenv(data_store.PASSWORD_ENV, "users-own")
    assert data_store.password(worker) == "users-own"
