"""Every example in examples/ runs in its shortened form (`run.py --short`) in the image, and
leaves what its README promises: a model, a training curve, TensorBoard logs, and the
example's own evidence (baseline comparison, resumed iteration count, objective values...)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_job, read_json, run_job

pytestmark = pytest.mark.docker

EXAMPLES = ROOT / "examples"


def run_example(name: str, image: str, work_dir: Path, timeout: float = 900) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / name / "run.py"),
            "--short",
            "--image",
            image,
            "--work-dir",
            str(work_dir),
        ],
        env=dict(os.environ, EXAMPLE_QUIET="1"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return read_json(work_dir / "result.json")


def assert_job_outputs(root: Path) -> None:
    assert (root / "output" / "success").exists()
    assert read_json(root / "model" / "metadata.json")["onnx"]
    assert (root / "model" / "policy.onnx").stat().st_size > 0
    png = root / "output" / "data" / "training_curve.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert list((root / "output" / "tensorboard").glob("events.out.tfevents.*"))


def test_cart_pole(image, tmp_path):
    result = run_example("cart-pole", image, tmp_path)
    assert_job_outputs(tmp_path / "job")
    # Learned: the short form stops once it beats random play (~22) by 20, within 10 iterations.
    assert result["figures"]["mean_return"] >= 22 + 20, result
    assert result["figures"]["iterations"] <= 10


def test_knapsack_custom_env_is_scored_against_greedy(image, tmp_path):
    result = run_example("knapsack", image, tmp_path)
    assert_job_outputs(tmp_path / "job")
    figures = result["figures"]
    # Learned: on the same unseen items, at least half-way from a coin flip per item to greedy.
    random, greedy = figures["random_value_mean"], figures["greedy_value_mean"]
    assert greedy > random > 0
    assert figures["rl_value_mean"] >= random + 0.5 * (greedy - random), figures
    metadata = read_json(tmp_path / "job" / "model" / "metadata.json")
    assert metadata["env"] == "knapsack:Knapsack"


def test_mountain_car_both_variants_are_judged_in_the_plain_env(image, tmp_path):
    result = run_example("mountain-car", image, tmp_path)
    for variant in ("discrete", "continuous"):
        assert_job_outputs(tmp_path / variant)
        figures = result["figures"][variant]
        # The plain env's own reward: random never reaches the flag on MountainCar-v0.
        if variant == "discrete":
            assert figures["random_return_mean"] == -200.0
        # Learned: the policy beats random play in the plain env by the example's margin.
        assert figures["return_mean"] >= figures["random_return_mean"] + 50, figures
    metadata = read_json(tmp_path / "continuous" / "model" / "metadata.json")
    assert metadata["env_config"]["continuous"] is True


def test_batch_rl_records_a_dataset_then_trains_only_from_the_channel(image, tmp_path):
    result = run_example("batch-rl", image, tmp_path)
    assert result["figures"]["dataset"]["files"] >= 1
    recorded = sorted((tmp_path / "record" / "output" / "data" / "dataset").rglob("*.parquet"))
    for name in ("bc", "marwil"):
        root = tmp_path / name
        assert_job_outputs(root)
        # The channel the job trained from is exactly what step 1 recorded.
        channel = sorted((root / "input" / "data" / "dataset").rglob("*.parquet"))
        assert [f.read_bytes() for f in channel] == [f.read_bytes() for f in recorded]
        metadata = read_json(root / "model" / "metadata.json")
        assert metadata["algorithm"] == name.upper()
        assert result["figures"][name]["iterations"] == 2
        # Learned from the dataset alone: beats random play (~22) by 20.
        assert result["figures"][name]["evaluation_return_best"] >= 22 + 20, result["figures"]
    # Continuous actions: CQL from a Pendulum dataset, exported with Box actions.
    assert_job_outputs(tmp_path / "cql")
    metadata = read_json(tmp_path / "cql" / "model" / "metadata.json")
    assert metadata["algorithm"] == "CQL"
    assert metadata["action_space"]["type"] == "Box"


def test_batch_rl_without_its_channel_fails_with_one_line(image, tmp_path):
    root = make_job(tmp_path / "job", {"rl_algorithm": "BC", "rl_offline_channel": "dataset"})
    result = run_job(image, root)
    assert result.returncode == 1
    assert "dataset" in result.failure and "\n" not in result.failure.strip()


def test_managed_spot_resumes_with_the_combined_iteration_count(image, tmp_path):
    result = run_example("managed-spot", image, tmp_path)
    figures = result["figures"]
    assert figures["total_iterations"] == 4
    assert figures["second_run_first_iteration"] > 2
    assert figures["resumed_from"].startswith("checkpoint-")
    # The restarted job's curve covers the whole run, the interrupted part included.
    with (tmp_path / "job" / "output" / "data" / "training_curve.csv").open() as file:
        iterations = [float(line.split(",")[0]) for line in list(file)[1:]]
    assert iterations == [1.0, 2.0, 3.0, 4.0]


def test_hyperparameter_tuning_objective_comes_from_the_metric_regexes(image, tmp_path):
    result = run_example("hyperparameter-tuning", image, tmp_path)
    objectives = result["figures"]["objectives"]
    assert len(objectives) == 3
    assert result["figures"]["best"] == max(objectives, key=objectives.get)
    # The tuner's reading of each log equals the mean return the model was exported with, to
    # the log's one decimal: 27.05 is logged as 27.1, which a bound of exactly 0.05 refused
    # (27.1 - 27.05 is 0.05000000000000071 in floating point).
    for trial, value in objectives.items():
        exported = read_json(tmp_path / trial / "model" / "metadata.json")["training"]
        assert value == pytest.approx(exported["episode_return_mean"], abs=0.05 + 1e-9)


def test_distributed_rollouts_use_both_hosts(image, tmp_path):
    result = run_example("distributed-rollouts", image, tmp_path)
    assert "algo-1 x" in result["figures"]["placement"]
    assert "algo-2 x" in result["figures"]["placement"]
    assert_job_outputs(tmp_path / "algo-1")
    assert not any((tmp_path / "algo-2" / "model").iterdir())


def test_every_example_is_tested_and_documented():
    names = sorted(path.parent.name for path in EXAMPLES.glob("*/run.py"))
    assert len(names) >= 7
    coach_tests = (Path(__file__).parent / "test_coach_examples.py").read_text()
    tests = [name for name in globals() if name.startswith("test_")]
    tests += re.findall(r"^def (test_\w+)", coach_tests, re.MULTILINE)
    readme = (EXAMPLES / "README.md").read_text()
    for name in names:
        assert any(test.startswith(f"test_{name.replace('-', '_')}") for test in tests), name
        assert f"\n## {name}\n" in readme, f"examples/README.md has no section for {name}"
