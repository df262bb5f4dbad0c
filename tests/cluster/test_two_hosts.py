"""A multi-host job without Docker: two `train` processes on this machine with separate
/opt/ml trees, as hosts 127.0.0.1 and 127.0.0.2 (loopback addresses resolve without DNS)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import signal
import subprocess
import time

import psutil
import pytest

from conftest import ROOT, JobResult, job_env, make_job, run_train, start_train, wait_for_line

HOSTS = ["127.0.0.1", "127.0.0.2"]
MULTI_AGENT = ROOT / "tests" / "training" / "sources" / "multi_agent"
SMALL = {
    "rl.training.train_batch_size_per_learner": "600",
    "rl.training.minibatch_size": "300",
    "rl.training.num_epochs": "2",
}


def host_job(tmp_path, host: str, hyperparameters: dict, source_dir=None) -> object:
    # The same resourceconfig on both hosts, each naming itself as current_host.
    return make_job(tmp_path / host, hyperparameters, source_dir=source_dir, host=host, hosts=HOSTS)


def kill_tree(proc: subprocess.Popen) -> None:
    """Everything the host ran, as if the instance died (its Ray node included)."""
    parent = psutil.Process(proc.pid)
    for child in [*parent.children(recursive=True), parent]:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.send_signal(signal.SIGKILL)


def finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        pytest.fail(f"the host did not exit within {timeout} s")


def test_two_hosts_train_one_model_with_rollouts_on_both(tmp_path):
    # The learner in the driver, as the user asked: the CPUs go to env runners on both hosts
    # (tests/image's two-container test trains with the zero-code plan's learner per host).
    hyperparameters = {
        **SMALL,
        "rl_stop_iterations": "2",
        "rl_cluster_timeout": "60",
        "rl.learners.num_learners": "0",
    }
    worker_root = host_job(tmp_path, HOSTS[1], hyperparameters)
    worker = start_train(worker_root, tmp_path / "worker.log")
    head = run_train(host_job(tmp_path, HOSTS[0], hyperparameters), timeout=300)
    assert head.returncode == 0, head.log[-3000:]
    assert finish(worker, timeout=60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    placement = re.search(r"Env runners per host: (.*)", head.log)[1]
    assert "127.0.0.1 x" in placement and "127.0.0.2 x" in placement
    assert "Ray cluster ready: 2 hosts (127.0.0.1, 127.0.0.2)" in head.log
    # Only the head writes the model and checkpoints.
    assert (head.root / "model" / "policy.onnx").exists()
    assert any((head.root / "checkpoints").iterdir())
    assert not any((worker_root / "model").iterdir())
    assert not any((worker_root / "checkpoints").iterdir())
    assert (worker_root / "output" / "success").exists()


def test_a_multi_agent_env_trains_its_policies_with_rollouts_on_both_hosts(tmp_path):
    # tests/training/sources/multi_agent/matching.py: two agents with different spaces, so two
    # policies; each scores 10/n a 10-step episode at random (scout 2.5, signaller 3.3).
    hyperparameters = {
        "rl_env": "matching:Matching",
        "rl_stop_iterations": "6",
        "rl_cluster_timeout": "60",
        "rl.learners.num_learners": "0",
    }
    worker_root = host_job(tmp_path, HOSTS[1], hyperparameters, MULTI_AGENT)
    worker = start_train(worker_root, tmp_path / "worker.log")
    head = run_train(host_job(tmp_path, HOSTS[0], hyperparameters, MULTI_AGENT), timeout=300)
    assert head.returncode == 0, head.log[-3000:]
    assert finish(worker, timeout=60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    placement = re.search(r"Env runners per host: (.*)", head.log)[1]
    assert "127.0.0.1 x" in placement and "127.0.0.2 x" in placement
    assert "acting with 2 policies: scout (scout); signaller (signaller)" in head.log
    last = head.metric_lines()[-1]
    assert float(last["policy_scout_episode_return_mean"]) >= 2.5 + 2.5, last
    assert float(last["policy_signaller_episode_return_mean"]) >= 10 / 3 + 2.5, last
    policies = (head.root / "model" / "policies").iterdir()
    assert sorted(path.name for path in policies) == ["scout", "signaller"]


def test_a_host_that_never_joins_is_named(tmp_path):
    head = run_train(
        host_job(tmp_path, HOSTS[0], {**SMALL, "rl_cluster_timeout": "6"}), timeout=120
    )
    assert head.returncode == 1
    assert head.failure.startswith(
        "hosts 127.0.0.2 did not join the Ray cluster within 6 s (rl_cluster_timeout); "
        "1 of 2 hosts joined"
    )


def test_a_head_that_never_starts_fails_the_worker(tmp_path):
    worker = run_train(
        host_job(tmp_path, HOSTS[1], {**SMALL, "rl_cluster_timeout": "4"}), timeout=120
    )
    assert worker.returncode == 1
    assert worker.failure == (
        "the head host 127.0.0.1 did not start the Ray cluster within 4 s (rl_cluster_timeout)"
    )


def test_bad_hyperparameters_fail_every_host_with_the_same_reason(tmp_path):
    # Every host gets the same hyperparameters (as on SageMaker; the cluster token derives from
    # them); only the head validates the algorithm, and the worker learns why it failed.
    hyperparameters = {**SMALL, "rl_algorithm": "PPOO", "rl_cluster_timeout": "60"}
    worker_root = host_job(tmp_path, HOSTS[1], hyperparameters)
    worker = start_train(worker_root, tmp_path / "worker.log")
    head = run_train(host_job(tmp_path, HOSTS[0], hyperparameters), timeout=120)
    assert head.returncode == 1 and "rl_algorithm 'PPOO'" in head.failure
    assert finish(worker, timeout=60) == 1
    failure = (worker_root / "output" / "failure").read_text()
    assert failure.startswith("the head host 127.0.0.1 failed: rl_algorithm 'PPOO'")


# Both layouts notice the lost worker the same way; the second runs in `make test-faults`.
@pytest.mark.parametrize(
    "learners", ["one in the driver", pytest.param("one per host", marks=pytest.mark.faults)]
)
def test_worker_lost_mid_training_fails_the_head_clearly(tmp_path, learners):
    hyperparameters = {**SMALL, "rl_stop_iterations": "1000", "rl_cluster_timeout": "60"}
    if learners == "one in the driver":
        # only env runners on the lost host: the head saves a checkpoint as it fails
        hyperparameters |= {"rl_checkpoint_frequency": "0", "rl.learners.num_learners": "0"}
    else:
        # the lost host's learner fails the iteration: the periodic checkpoints remain
        hyperparameters |= {"rl_checkpoint_frequency": "1"}
    worker = start_train(host_job(tmp_path, HOSTS[1], hyperparameters), tmp_path / "worker.log")
    head_root = host_job(tmp_path, HOSTS[0], hyperparameters)
    head_log = tmp_path / "head.log"
    head = start_train(head_root, head_log)
    try:
        wait_for_line(head_log, "Iteration 2:", head, timeout=180)
        kill_tree(worker)
        returncode = finish(head, timeout=90)
    finally:
        if head.poll() is None:
            kill_tree(head)
    result = JobResult(returncode, head_log.read_text(), head_root)
    assert returncode == 1, result.log[-3000:]
    assert result.failure.startswith("host 127.0.0.2 left the Ray cluster during training")
    assert "\n" not in result.failure.strip()
    if learners == "one per host":
        assert "failed with it (a learner was on it)" in result.failure
        assert "2 learners (data-parallel)" in result.log
    assert any((head_root / "checkpoints").glob("checkpoint-*/checkpoint.json"))


def test_head_lost_mid_training_fails_the_worker_in_bounded_time(tmp_path):
    hyperparameters = {**SMALL, "rl_stop_iterations": "1000", "rl_cluster_timeout": "60"}
    worker_root = host_job(tmp_path, HOSTS[1], hyperparameters)
    env = job_env(worker_root) | {"SAGEMAKER_RL_HEAD_LOST_AFTER": "5"}
    worker_log = tmp_path / "worker.log"
    worker = subprocess.Popen(
        ["sagemaker-rl", "train"], env=env, stdout=worker_log.open("w"), stderr=subprocess.STDOUT
    )
    head_log = tmp_path / "head.log"
    head = start_train(host_job(tmp_path, HOSTS[0], hyperparameters), head_log)
    try:
        wait_for_line(head_log, "Iteration 2:", head, timeout=180)
        kill_tree(head)
        killed = time.monotonic()
        assert finish(worker, timeout=60) == 1
        assert time.monotonic() - killed < 30
    finally:
        for proc in (head, worker):
            if proc.poll() is None:
                kill_tree(proc)
    failure = (worker_root / "output" / "failure").read_text()
    assert failure.startswith("lost contact with the head host 127.0.0.1 for 5 s")
    assert os.path.exists(worker_root / "output" / "failure")


def test_hosts_that_never_resolve_are_named(tmp_path):
    root = make_job(
        tmp_path / "worker",
        {**SMALL, "rl_cluster_timeout": "3"},
        host="127.0.0.2",
        hosts=["algo-nowhere.invalid", "127.0.0.2"],
    )
    worker = run_train(root, timeout=120)
    assert worker.returncode == 1
    assert worker.failure.startswith(
        "head host 'algo-nowhere.invalid' from resourceconfig.json did not resolve before the "
        "cluster timeout"
    )


def test_a_sweep_runs_trials_on_both_hosts_and_stores_them_on_the_head(tmp_path):
    # Four PBT trials of one CPU each fill both hosts' CPUs; the worker's trials checkpoint
    # through the head (head_storage.py), so PBT copies weights across hosts and the best
    # trial is exported wherever it ran.
    hyperparameters = {
        **SMALL,
        "rl_stop_iterations": "6",
        "rl_cluster_timeout": "60",
        "rl_tune_space": '{"rl.training.lr": {"loguniform": [0.0003, 0.01]}}',
        "rl_tune_search": "pbt",
        "rl_tune_samples": "4",
        "rl_tune_perturbation_interval": "2",
    }
    worker_root = host_job(tmp_path, HOSTS[1], hyperparameters)
    worker = start_train(worker_root, tmp_path / "worker.log")
    head_root = host_job(tmp_path, HOSTS[0], hyperparameters)
    head = run_train(head_root, timeout=400)
    assert head.returncode == 0, head.log[-3000:]
    assert finish(worker, 60) == 0, (tmp_path / "worker.log").read_text()[-3000:]
    assert "4 trials of 1 CPUs each" in head.log
    # Trials ran on both hosts (each result names its host, in the log and the table).
    with (head_root / "output" / "data" / "tune_trials.csv").open() as file:
        hosts_seen = {row["host"] for row in csv.DictReader(file)}
    # (the head's Ray node reports this machine's own address, not 127.0.0.1)
    assert len(hosts_seen) == 2 and HOSTS[1] in hosts_seen, hosts_seen
    assert re.search(r"trial_\w+ iteration \d+ on 127\.0\.0\.2: ", head.log)
    # Every trial's checkpoints are on the head, none on the worker.
    tune_dir = head_root / "checkpoints" / "tune"
    assert len({path.parent.name for path in tune_dir.rglob("checkpoint_*")}) == 4
    assert not (worker_root / "checkpoints" / "tune").exists()
    assert "tune" in json.loads((head_root / "model" / "metadata.json").read_text())
