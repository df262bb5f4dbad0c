"""The RL Coach examples (examples/coach-*) in their shortened form (`run.py --short`), in the
Coach TensorFlow image: each entry script on `SageMakerCoachPresetLauncher` trains its preset,
and each test asserts that learning happened (a return above the environment's random baseline
by a stated margin, measured on the trained policy), not only that files exist.

Random baselines, measured in the image (gym 0.12.5): CartPole-v0 22.2 (1000 episodes of
uniformly random play); MountainCar-v0 -200 (random play never reaches the flag); the knapsack
and the batch RL dataset report theirs in the run's figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_examples import run_example as run_short_example

from conftest import build_image, read_json
from sagemaker_rl_container.metrics import parse_log

pytestmark = pytest.mark.docker

CARTPOLE_RANDOM = 22.0


@pytest.fixture(scope="module")
def coach_image() -> str:
    return build_image("coach-tensorflow-cpu")


def run_example(name: str, image: str, work_dir: Path) -> dict:
    """The example's short form, as test_examples.py runs the Ray ones; every check held."""
    result = run_short_example(name, image, work_dir, timeout=600)
    assert result["short"] and all(result["checks"].values()), result
    return result


def assert_coach_job(root: Path, preset: str) -> None:
    """What a Coach job run through the old-style entry script leaves."""
    assert (root / "output" / "success").exists()
    metadata = read_json(root / "model" / "metadata.json")
    assert metadata["toolkit"] == "coach" and metadata["preset"] == preset
    assert (root / "model" / metadata["tf_serving"]["path"] / "saved_model.pb").exists()
    assert (root / "output" / "data" / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    log = (root / "train.log").read_text()
    # The entry script ran and mapped its friendly names onto preset attributes.
    assert "Applying RL hyperparameter rl." in log


def test_coach_cart_pole_clipped_ppo_and_dqn_beat_random_play(coach_image, tmp_path):
    result = run_example("coach-cart-pole", coach_image, tmp_path)
    assert_coach_job(tmp_path / "clipped-ppo", "preset-cartpole-clippedppo")
    assert_coach_job(tmp_path / "dqn", "preset-cartpole-dqn")  # RLCOACH_PRESET wins
    for job in ("clipped-ppo", "dqn"):
        # Greedy evaluation episodes after a few thousand steps: well above random play.
        assert result["figures"][job]["evaluation_return"] >= CARTPOLE_RANDOM + 20, result


def test_coach_mountain_car_policy_beats_random_in_the_plain_env(coach_image, tmp_path):
    result = run_example("coach-mountain-car", coach_image, tmp_path)
    assert_coach_job(tmp_path / "job", "preset-mountaincar-clippedppo")
    figures = result["figures"]
    # Judged on MountainCar-v0's own reward, not the shaped one: random never reaches the flag.
    assert figures["random_return_mean"] == -200.0
    assert figures["return_mean"] >= figures["random_return_mean"] + 10, figures
    assert figures["success_rate"] > 0


def test_coach_knapsack_custom_env_policy_beats_random_packing(coach_image, tmp_path):
    result = run_example("coach-knapsack", coach_image, tmp_path)
    assert_coach_job(tmp_path / "job", "preset-knapsack-clippedppo")
    figures = result["figures"]
    # The same 300 unseen item sequences for all three.
    assert figures["greedy_value_mean"] > figures["random_value_mean"] > 0
    assert figures["rl_value_mean"] >= figures["random_value_mean"] + 10, figures


def test_coach_batch_rl_learns_from_the_csv_channel_only(coach_image, tmp_path):
    result = run_example("coach-batch-rl", coach_image, tmp_path)
    assert_coach_job(tmp_path / "job", "preset-cartpole-ddqnbcq")
    recorded = tmp_path / "record" / "output" / "data" / "dataset" / "cartpole_dataset.csv"
    channel = tmp_path / "job" / "input" / "data" / "dataset" / "cartpole_dataset.csv"
    assert channel.read_bytes() == recorded.read_bytes()
    header = recorded.read_text().splitlines()[0].split(",")
    assert header[0] == "episode_id" and "all_action_probabilities" in header
    log = (tmp_path / "job" / "train.log").read_text()
    assert "Batch RL dataset: /opt/ml/input/data/dataset/cartpole_dataset.csv" in log
    metrics = parse_log(log)
    # It never played to train: no training-phase steps; each iteration logs its OPE.
    assert metrics and all(m.get("timesteps_total") == 0 and "ope_wis" in m for m in metrics)
    assert result["figures"]["evaluation_return"] >= CARTPOLE_RANDOM + 30, result


def test_coach_managed_spot_resumes_and_keeps_learning(coach_image, tmp_path):
    result = run_example("coach-managed-spot", coach_image, tmp_path)
    assert_coach_job(tmp_path / "job", "preset-cartpole-clippedppo")
    figures = result["figures"]
    assert figures["resumed_from"].startswith("checkpoint-")
    assert figures["second_run_first_iteration"] == figures["first_run_iterations"] + 1
    assert figures["total_iterations"] == 6
    assert figures["env_steps"] == 6 * 2048
    # The curve covers both runs: every iteration once, in order.
    rows = (tmp_path / "job" / "output" / "data" / "training_curve.csv").read_text().splitlines()
    assert [int(float(row.split(",")[0])) for row in rows[1:]] == [1, 2, 3, 4, 5, 6]
    assert figures["evaluation_return"] >= CARTPOLE_RANDOM + 20, figures


def test_distributed_coach_trains_on_two_hosts_and_beats_random_play(coach_image, tmp_path):
    # The head trains, both hosts play (the example checks every iteration's episodes came
    # from both); the object tracker's random play scores -53.4, the check asks for +10.
    result = run_example("distributed-coach", coach_image, tmp_path)
    figures = result["figures"]
    assert figures["hosts"] == 2
    assert figures["evaluation_return"] >= figures["random_return"] + 10, result
    head = tmp_path / "algo-1"
    assert (head / "output" / "success").exists() and (
        tmp_path / "algo-2" / "output" / "success"
    ).exists()
    assert (
        "Applying RL hyperparameter rl.improve_steps:TrainingSteps=10"
        in (head / "train.log").read_text()
    )
