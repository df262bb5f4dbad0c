"""Code written for the archived SageMaker RL containers, run unchanged: an entry script on
the notebooks' `sagemaker_rl.ray_launcher` with a Ray 1.x experiment dict and its own uploaded
copy of `sagemaker_rl/`, and environments written for `gym` (the test sources are our own, in
the style of the old notebooks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import QUICK_PPO, make_job, read_json, run_train

SOURCES = Path(__file__).parent / "sources" / "legacy_ray"


def test_a_sagemaker_ray_launcher_script_with_ray1_keys_and_its_own_sagemaker_rl_copy(tmp_path):
    root = make_job(
        tmp_path / "job",
        {
            # The old launcher's adjustments of the experiment dict.
            "rl.training.config.lr": "0.0005",
            "rl.training.stop.training_iteration": "3",
        },
        source_dir=SOURCES,
        program="train-ray.py",
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    # The stop condition the hyperparameter set, not the script's 10.
    assert [m["iteration"] for m in result.metric_lines()] == ["1", "2", "3"]
    # The image's sagemaker_rl ran; the uploaded copy served only the module the image lacks.
    assert "is not used for ray_launcher.py" in result.log
    assert "helper from the uploaded sagemaker_rl copy" in result.log
    assert "Ray 1.x setting sgd_minibatch_size is RLlib's minibatch_size now" in result.log
    assert "Experiment setting training.config.lr = 0.0005" in result.log
    assert "written for gym (0.26 API): it runs through Shimmy's GymV26CompatibilityV0" in (
        result.log
    )
    meta = read_json(root / "model" / "metadata.json")
    assert meta["env"] == "CartPole-gym" and meta["algorithm"] == "PPO"
    assert (root / "model" / "policy.onnx").exists()
    assert sorted(p.name for p in (root / "checkpoints").glob("checkpoint-*")) == [
        "checkpoint-000001",
        "checkpoint-000002",
        "checkpoint-000003",
    ]


def test_a_ray1_key_with_no_current_meaning_fails_with_one_line(tmp_path):
    root = make_job(
        tmp_path / "job",
        {"rl.training.config.horizon": "200"},
        source_dir=SOURCES,
        program="train-ray.py",
    )
    result = run_train(root)
    assert result.returncode != 0
    assert result.failure == (
        "config key 'horizon' (=200) has no meaning in RLlib 2.x: limit the episode length in "
        "the env (gymnasium's TimeLimit)"
    )


def test_a_misspelt_ray1_key_names_the_key_it_resembles(tmp_path):
    root = make_job(
        tmp_path / "job",
        {"rl.training.config.num_sgd_iters": "3"},
        source_dir=SOURCES,
        program="train-ray.py",
    )
    result = run_train(root)
    assert result.returncode != 0
    assert result.failure == (
        "config key 'num_sgd_iters' is not an RLlib setting (did you mean num_sgd_iter?)"
    )


def test_a_pre_0_26_gym_environment_trains_without_code(tmp_path):
    root = make_job(
        tmp_path / "job",
        {"rl_env": "old_corridor:OldCorridor", "rl_stop_iterations": "2"},
        source_dir=SOURCES,
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    assert "runs through Shimmy's GymV21CompatibilityV0" in result.log
    metrics = result.metric_lines()
    assert [m["iteration"] for m in metrics] == ["1", "2"]
    assert int(metrics[-1]["timesteps_total"]) > 0
    assert (root / "model" / "policy.onnx").exists()


# ---- warm start from a `checkpoint` input channel, as the old launchers read it -------------


@pytest.fixture(scope="module")
def trained_job(tmp_path_factory) -> Path:
    root = make_job(
        tmp_path_factory.mktemp("first") / "job", {"rl_stop_iterations": "2", **QUICK_PPO}
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    return root


@pytest.mark.parametrize("given", ["model.tar.gz contents", "checkpoint directory"])
def test_a_checkpoint_channel_warm_starts_the_job(trained_job, tmp_path, given):
    channel = (
        trained_job / "model"
        if given == "model.tar.gz contents"
        else trained_job / "checkpoints" / "checkpoint-000002"
    )
    root = make_job(
        tmp_path / "job",
        {"rl_stop_iterations": "3", **QUICK_PPO},
        channels={"checkpoint": channel},
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert "Warm start from input channel 'checkpoint'" in result.log
    # Training went on from the first job's two iterations.
    assert [m["iteration"] for m in result.metric_lines()] == ["3"]
    assert read_json(root / "model" / "metadata.json")["training"]["iterations"] == 3


def test_a_checkpoint_of_another_env_fails_the_warm_start_with_one_line(trained_job, tmp_path):
    root = make_job(
        tmp_path / "job",
        {"rl_env": "Acrobot-v1", "rl_stop_iterations": "1", **QUICK_PPO},
        channels={"checkpoint": trained_job / "model"},
    )
    result = run_train(root)
    assert result.returncode != 0
    assert result.failure == (
        "input channel 'checkpoint': exported-model (iteration 2) holds PPO on CartPole-v1, this "
        "job trains PPO on Acrobot-v1: warm-start from a checkpoint of the same kind"
    )
