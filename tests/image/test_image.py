"""The image in a real Docker engine, run the way SageMaker runs it: `/opt/ml` mounted,
`train` as the command, a host name from resourceconfig.json."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

import containers
import pytest

from conftest import (
    QUICK_PPO,
    ROOT,
    STAND_IN_BASE,
    docker,
    make_job,
    matrix_get,
    post_json,
    read_json,
    run_job,
    serving_container,
)

pytestmark = pytest.mark.docker

SOURCES = ROOT / "tests" / "training" / "sources"


def test_zero_code_job_exports_model_and_logs_metrics(image, tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "2"})
    result = run_job(image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    metrics = result.metric_lines()
    assert [m["iteration"] for m in metrics] == ["1", "2"]
    assert float(metrics[-1]["episode_reward_mean"]) > 0
    assert sorted(p.name for p in (root / "model").iterdir()) == [
        "checkpoint",
        "metadata.json",
        "policy.onnx",
    ]
    meta = read_json(root / "model" / "metadata.json")
    ray, python = (matrix_get("ray-pytorch-cpu", field) for field in ("toolkit_version", "python"))
    assert meta["versions"]["ray"] == ray and meta["versions"]["python"].startswith(python)
    assert (root / "checkpoints" / "checkpoint-000002" / "checkpoint.json").exists()


def test_script_mode_with_custom_env_in_container(image, tmp_path):
    root = make_job(
        tmp_path / "job",
        {"rl_stop_iterations": "1", "corridor_length": "3"},
        source_dir=SOURCES / "corridor",
        program="train.py",
    )
    result = run_job(image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert read_json(root / "model" / "metadata.json")["env_config"] == {"length": 3}


def test_bad_input_in_container_writes_failure(image, tmp_path):
    root = make_job(tmp_path / "job", {"rl_algorithm": "NOPE"})
    result = run_job(image, root, timeout=120)
    assert result.returncode == 1
    assert result.failure.startswith("rl_algorithm 'NOPE' is not an RLlib algorithm")


def test_docker_stop_checkpoints_and_exits_like_sigterm(image, tmp_path):
    root = make_job(
        tmp_path / "job",
        {**QUICK_PPO, "rl_stop_iterations": "500", "rl_checkpoint_frequency": "0"},
    )
    name = containers.unique_name("sagemaker-rl-test-stop")
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        "algo-1",
        "-v",
        f"{root}:/opt/ml",
        image,
        "train",
    )
    try:
        deadline = time.monotonic() + 180
        while "Iteration 2:" not in docker("logs", name, check=False).stdout:
            assert time.monotonic() < deadline, docker("logs", name, check=False).stdout[-2000:]
            time.sleep(0.5)
        started = time.monotonic()
        docker("stop", "--time", "60", name)
        assert time.monotonic() - started < 30  # well inside SageMaker's 120 s spot notice
        exit_code = int(docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout)
        assert exit_code == 128 + signal.SIGTERM
    finally:
        docker("rm", "-f", name, check=False)
    assert "interrupted by SIGTERM" in (root / "output" / "failure").read_text()
    assert any((root / "checkpoints").glob("checkpoint-*/checkpoint.json"))


def test_image_commands_and_passthrough(image):
    definitions = json.loads(docker("run", "--rm", image, "metric-definitions").stdout)
    assert {
        "Name": "episode_reward_mean",
        "Regex": next(d["Regex"] for d in definitions if d["Name"] == "episode_reward_mean"),
    } in definitions
    out = docker(
        "run",
        "--rm",
        image,
        "python",
        "-c",
        "import sagemaker_rl_container, ray; print(ray.__version__)",
    ).stdout
    assert out.strip() == matrix_get("ray-pytorch-cpu", "toolkit_version")
    env = docker("inspect", "-f", "{{json .Config.Env}}", image).stdout
    assert "SAGEMAKER_TRAINING_MODULE=sagemaker_rl_container.training:main" in env


def test_serve_in_container_answers_like_the_exported_policy(image, cartpole_model):
    import numpy as np
    import onnxruntime

    observations = np.random.default_rng(5).normal(size=(50, 4)).astype(np.float32)
    with serving_container(image, cartpole_model / "model") as url:
        served = post_json(url, {"instances": observations.tolist()})["actions"]
    session = onnxruntime.InferenceSession(str(cartpole_model / "model" / "policy.onnx"))
    expected = session.run(["actions"], {"observations": observations})[0]
    assert served == expected.tolist()


# CartPole-v1's random policy returns ~22 an episode; the two-learner job must reach this.
LEARNED_RETURN = 100
DIGESTS = re.compile(r"Learner weights after iteration (\d+) .*?by host\): (.*): (identical|they)")


def test_two_containers_train_with_a_learner_on_each_and_learn_one_model(image, tmp_path):
    """SageMaker local-mode style: algo-1 and algo-2 on one Docker network, each with its
    own /opt/ml and a resourceconfig naming both. The zero-code plan gives each host a
    learner (sizing.py); the learners average their gradients (torch DDP over gloo), so after
    every update both hold the same weights, and the job learns."""
    hosts = ["algo-1", "algo-2"]
    hyperparameters = {
        "rl_stop_mean_return": str(LEARNED_RETURN),
        "rl_stop_evaluation_episodes": "0",
        "rl_stop_iterations": "30",
        "rl_cluster_timeout": "120",
        "rl.training.train_batch_size_per_learner": "500",
    }
    roots = {
        host: make_job(tmp_path / host, hyperparameters, host=host, hosts=hosts) for host in hosts
    }
    # The worker first: it waits for the head.
    with containers.hosts(image, list(roots.values()), start_order=hosts[::-1]) as job:
        codes = job.wait(timeout=600)
        logs = job.logs()
    assert codes == {"algo-1": 0, "algo-2": 0}, logs["algo-1"][-3000:] + logs["algo-2"][-2000:]
    assert "2 learners (data-parallel)" in logs["algo-1"], logs["algo-1"][-3000:]
    digests = DIGESTS.findall(logs["algo-1"])
    assert len(digests) == 2, logs["algo-1"][-3000:]  # after the first and the last iteration
    (first, first_pairs, first_same), (last, last_pairs, last_same) = digests
    assert int(last) > int(first) and first_same == last_same == "identical", digests
    for pairs in (first_pairs, last_pairs):
        # one learner on each host, and the same weights on both
        by_host = dict(pair.split(" ") for pair in pairs.split(", "))
        assert sorted(by_host) == hosts and len(set(by_host.values())) == 1, pairs
    assert first_pairs != last_pairs  # the updates changed them
    assert "The head host algo-1 finished training" in logs["algo-2"]
    assert (roots["algo-1"] / "model" / "policy.onnx").exists()
    assert not any((roots["algo-2"] / "model").iterdir())
    assert not any((roots["algo-2"] / "checkpoints").iterdir())
    training = read_json(roots["algo-1"] / "model" / "metadata.json")["training"]
    assert training["hosts"] == 2
    assert training["stop_reason"].startswith("mean return"), training
    assert training["recent_episode_return_mean"] >= LEARNED_RETURN


@pytest.mark.parametrize("target", ["build", "build-all"])
def test_a_failing_docker_build_fails_make_and_keeps_the_old_image(image, tmp_path, target):
    """A build that fails must never let the previous image under the same tag pass for the
    new one (tests, and buildspec.yml's push, would run on a stale image)."""
    before = docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip()
    broken = tmp_path / "Dockerfile"
    dockerfile = ROOT / "images" / "ray" / "pytorch" / "cpu" / "Dockerfile"
    broken.write_text(
        dockerfile.read_text() + '\nRUN echo "a deliberately broken step" && exit 3\n'
    )
    build = subprocess.run(
        ["make", "-C", str(ROOT), target, f"DOCKERFILE={broken}", f"BASE_IMAGE={STAND_IN_BASE}"],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert build.returncode != 0, build.stdout[-2000:]
    assert "FAILED" in build.stdout and "a deliberately broken step" in build.stdout
    assert "== built " not in build.stdout
    assert docker("image", "inspect", "-f", "{{.Id}}", image).stdout.strip() == before


def test_a_simulator_in_a_second_container_trains_the_job_it_connects_to_by_name(image, tmp_path):
    # tests/training/sources/external/simulator.py plays CartPole-v1 in its own container (the
    # same image, for its Ray and torch) and connects to the job's container by name on a
    # user-defined network, as a simulator on another host connects to the head's name.
    network = containers.unique_name("sagemaker-rl-test-net")
    job_name = containers.unique_name("sagemaker-rl-test-job")
    simulator_name = containers.unique_name("sagemaker-rl-test-simulator")
    docker("network", "create", network)
    root = make_job(
        tmp_path / "job",
        {
            "rl_env": "CartPole-v1",
            "rl_external_port": "5555",
            "rl_stop_mean_return": "150",
            "rl_stop_iterations": "40",
            "rl_external_timeout": "120",
        },
    )
    simulator = subprocess.Popen(
        [
            containers.DOCKER,
            "run",
            "--rm",
            "--name",
            simulator_name,
            "--network",
            network,
            "-v",
            f"{SOURCES / 'external'}:/simulator:ro",
            "--entrypoint",
            "python",
            image,
            "/simulator/simulator.py",
            job_name,
            "5555",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = run_job(image, root, "--network", network, "--name", job_name, timeout=600)
    finally:
        docker("rm", "-f", simulator_name, check=False)
        simulator.wait(timeout=60)
        docker("network", "rm", network, check=False)
    assert result.returncode == 0, result.log[-3000:]
    assert "A simulator connected to port 5555 from" in result.log
    stopped = re.search(r"Training stopped: mean return ([0-9.]+)", result.log)
    assert stopped and float(stopped[1]) >= 150, result.log[-2000:]
    assert (root / "model" / "policy.onnx").is_file()
