"""Distributed Coach: two containers on one Docker network, named algo-1 and algo-2 as SageMaker
names its hosts, each with its own /opt/ml and the same resourceconfig.json. The head (algo-1)
runs Redis, the trainer and a rollout worker; algo-2 runs a rollout worker."""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import containers
import pytest

from conftest import ROOT, JobResult, build_image, docker, make_job, read_json, run_job

pytestmark = pytest.mark.docker

SOURCES = ROOT / "tests" / "coach" / "sources"
HOSTS = ["algo-1", "algo-2"]
# Three short playing periods of Clipped PPO, an evaluation after each.
SHORT_PPO = {
    "RLCOACH_PRESET": "preset-cartpole-clippedppo",
    "rl.improve_steps:TrainingSteps": "3",
    "rl.steps_between_evaluation_periods:EnvironmentSteps": "1000",
    "rl.agent_params.algorithm.num_consecutive_playing_steps:EnvironmentSteps": "1000",
    "rl.evaluation_steps:EnvironmentEpisodes": "2",
    "rl_cluster_timeout": "120",
}
LONG_DQN = {
    "RLCOACH_PRESET": "preset-cartpole-dqn",
    "rl.improve_steps:EnvironmentSteps": "1000000",
    "rl.steps_between_evaluation_periods:EnvironmentSteps": "500",
    "rl.evaluation_steps:EnvironmentEpisodes": "1",
    "rl_cluster_timeout": "120",
}


@pytest.fixture(scope="module")
def coach_image() -> str:
    return build_image("coach-tensorflow-cpu")


@pytest.fixture(scope="module")
def mxnet_image() -> str:
    return build_image("coach-mxnet-cpu")


@contextlib.contextmanager
def cluster(
    image: str,
    tmp_path: Path,
    hyperparameters: dict[str, str],
    roots: dict[str, Path] | None = None,
) -> Iterator[dict[str, containers.Host]]:
    """Both hosts started on a network of their own (tools/containers.py); removed afterwards."""
    roots = roots or {
        host: make_job(tmp_path / host, hyperparameters, source_dir=SOURCES, host=host, hosts=HOSTS)
        for host in HOSTS
    }
    with containers.hosts(image, [roots[host] for host in HOSTS]) as job:
        yield job.hosts


def result_of(host: containers.Host) -> JobResult:
    return JobResult(host.exit_code(), host.logs(), host.root)


@pytest.mark.parametrize(
    ("framework", "preset"),
    [
        ("tensorflow", "preset-cartpole-clippedppo"),
        # Written for Coach's own distributed mode: its memory backend and S3 data store give
        # way to the job's Redis.
        ("tensorflow", "preset-cartpole-clippedppo-distributed"),
        ("mxnet", "preset-cartpole-clippedppo"),
    ],
)
def test_clipped_ppo_trains_with_rollouts_on_both_hosts(request, tmp_path, framework, preset):
    image = request.getfixturevalue("coach_image" if framework == "tensorflow" else "mxnet_image")
    with cluster(image, tmp_path, {**SHORT_PPO, "RLCOACH_PRESET": preset}) as hosts:
        head, worker = hosts["algo-1"], hosts["algo-2"]
        assert head.wait(timeout=600) == 0, head.logs()[-4000:]
        assert worker.wait(timeout=120) == 0, worker.logs()[-4000:]
        result = result_of(head)
    assert result.succeeded
    assert "Distributed Coach ready: 2 rollout workers on 2 hosts (algo-1, algo-2)" in result.log
    # Every iteration's episodes came from both hosts' rollout workers.
    per_iteration = re.findall(r"Rollout episodes this iteration: (.*)", result.log)
    assert len(per_iteration) == 3, result.log[-4000:]
    for line in per_iteration:
        assert "algo-1/0 x" in line and "algo-2/0 x" in line, line
    metrics = result.metric_lines()
    assert [int(m["iteration"]) for m in metrics] == [1, 2, 3]
    assert int(metrics[-1]["timesteps_total"]) >= 3000
    assert all(float(m["episode_return_mean"]) > 0 for m in metrics)
    # Only the head writes the model and checkpoints.
    meta = read_json(head.root / "model" / "metadata.json")
    assert meta["training"]["hosts"] == 2
    assert any((head.root / "checkpoints").glob("checkpoint-*/checkpoint.json"))
    assert not any((worker.root / "model").iterdir())
    assert not any((worker.root / "checkpoints").iterdir())
    assert (worker.root / "output" / "success").exists()
    assert "(password protected)" in result.log
    if preset.endswith("-distributed"):
        assert "The preset's data store (S3DataStoreParameters) gives way" in result.log


def test_a_preset_whose_agent_cannot_run_distributed_fails_every_host_in_one_line(
    coach_image, tmp_path
):
    # Coach's own policy-gradient preset: no synchronization type, and none known for it.
    with cluster(coach_image, tmp_path, {"RLCOACH_PRESET": "CartPole_PG"}) as hosts:
        head, worker = hosts["algo-1"], hosts["algo-2"]
        assert head.wait(timeout=180) == 1, head.logs()[-4000:]
        assert worker.wait(timeout=60) == 1, worker.logs()[-4000:]
    why = (
        "preset CartPole_PG: PolicyGradientsAgent has no distributed Coach synchronization type "
        "(distributed here: ClippedPPOAgent, PPOAgent, DQNAgent"
    )
    assert (head.root / "output" / "failure").read_text().startswith(why)
    worker_failure = (worker.root / "output" / "failure").read_text()
    assert worker_failure.startswith(f"the head host algo-1 failed: {why}")


# 40 s each: in `make test-faults`, with the other kills and SIGTERMs.
@pytest.mark.faults
def test_a_worker_host_killed_mid_run_fails_the_job_with_one_line(coach_image, tmp_path):
    hyperparameters = {**LONG_DQN, "rl_checkpoint_frequency": "0"}
    with cluster(coach_image, tmp_path, hyperparameters) as hosts:
        head, worker = hosts["algo-1"], hosts["algo-2"]
        head.wait_for_log("Iteration 2:", timeout=300)
        docker("kill", worker.container)
        killed = time.monotonic()
        assert head.wait(timeout=120) == 1, head.logs()[-4000:]
        # Noticed within the heartbeat's 10 s, plus an iteration's end.
        assert time.monotonic() - killed < 60
        failure = (head.root / "output" / "failure").read_text()
    assert failure.startswith(
        "rollout worker algo-2/0 stopped (no heartbeat for 10 s: its host or process died); a "
        "checkpoint was saved, restart the job to resume"
    ), failure
    assert "\n" not in failure.strip()
    assert any((head.root / "checkpoints").glob("checkpoint-*/checkpoint.json"))


# 40 s each: in `make test-faults`, with the other kills and SIGTERMs.
@pytest.mark.faults
def test_sigterm_on_the_head_checkpoints_and_a_restart_resumes(coach_image, tmp_path):
    with cluster(coach_image, tmp_path, LONG_DQN) as hosts:
        head, worker = hosts["algo-1"], hosts["algo-2"]
        head.wait_for_log("Iteration 2:", timeout=300)
        docker("stop", "--time", "90", head.container, timeout=120)
        assert head.wait(timeout=30) == 128 + signal.SIGTERM, head.logs()[-4000:]
        assert worker.wait(timeout=120) == 1, worker.logs()[-4000:]
        roots = {name: host.root for name, host in hosts.items()}
    assert "interrupted by SIGTERM" in (roots["algo-1"] / "output" / "failure").read_text()
    worker_failure = (roots["algo-2"] / "output" / "failure").read_text()
    assert worker_failure.startswith("the head host algo-1 failed: training interrupted by SIGTERM")
    saved = sorted((roots["algo-1"] / "checkpoints").glob("checkpoint-*/checkpoint.json"))
    assert saved
    stopped_at = read_json(saved[-1])["coach"]
    # Both hosts start again with a reachable end; the head resumes from its checkpoint.
    finish_at = stopped_at["train_counters"]["EnvironmentSteps"] + 1000
    again = {**LONG_DQN, "rl.improve_steps:EnvironmentSteps": str(finish_at)}
    for name in HOSTS:
        make_job(roots[name], again, source_dir=SOURCES, host=name, hosts=HOSTS)
    with cluster(coach_image, tmp_path, again, roots=roots) as hosts:
        head, worker = hosts["algo-1"], hosts["algo-2"]
        assert head.wait(timeout=600) == 0, head.logs()[-4000:]
        assert worker.wait(timeout=120) == 0, worker.logs()[-4000:]
        result = result_of(head)
    assert f"Resumed from checkpoint-{stopped_at['iteration']:06d}" in result.log
    metrics = result.metric_lines()
    assert int(metrics[0]["iteration"]) == stopped_at["iteration"] + 1
    assert int(metrics[-1]["timesteps_total"]) >= finish_at


def test_a_rollout_host_that_never_joins_is_named(coach_image, tmp_path):
    root = make_job(
        tmp_path / "algo-1",
        {**SHORT_PPO, "rl_cluster_timeout": "8"},
        source_dir=SOURCES,
        host="algo-1",
        hosts=HOSTS,
    )
    result = run_job(coach_image, root, timeout=180)
    assert result.returncode == 1, result.log[-3000:]
    assert result.failure == (
        "rollout workers algo-2/0 did not join within 8 s (rl_cluster_timeout); 1 of 2 joined"
    )
