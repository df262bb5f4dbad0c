"""Zero-code jobs: hyperparameters alone train, checkpoint and export a policy (real Ray)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import gymnasium as gym
import numpy as np
import onnxruntime
import pytest

from conftest import QUICK_PPO, assert_same_policy_outputs, make_job, read_json, run_train

SOURCES = Path(__file__).parent / "sources"


@pytest.fixture(scope="module")
def cartpole_job(tmp_path_factory) -> object:
    """PPO on CartPole-v1 with the zero-code defaults until the mean return reaches 150."""
    root = make_job(
        tmp_path_factory.mktemp("cartpole"),
        {
            "rl_algorithm": "PPO",
            "rl_env": "CartPole-v1",
            "rl_stop_mean_return": "150",
            "rl_stop_iterations": "40",
            "rl_checkpoint_frequency": "5",
        },
    )
    return run_train(root, timeout=600)


def test_ppo_cartpole_reaches_150_and_reports_success(cartpole_job):
    assert cartpole_job.returncode == 0, cartpole_job.log[-3000:]
    assert cartpole_job.succeeded and cartpole_job.failure is None
    lines = cartpole_job.metric_lines()
    assert [int(m["iteration"]) for m in lines] == list(range(1, len(lines) + 1))
    assert lines[-1]["episode_reward_mean"] == lines[-1]["episode_return_mean"]
    for name in (
        "episode_return_min",
        "episode_return_max",
        "episode_len_mean",
        "timesteps_total",
        "time_this_iter_s",
        "policy_loss",
        "vf_loss",
        "total_loss",
    ):
        assert name in lines[-1]
    # The stop compares the mean of at least the last 10 episodes (the default), not only
    # the last iteration's few, and the policy as exported must reach it in evaluation too.
    stopped = re.search(
        r"Training stopped: mean return ([0-9.]+) over the last (\d+) episodes >= 150, and "
        r"([0-9.]+) in an evaluation of the policy as exported \((\d+) episodes\)",
        cartpole_job.log,
    )
    assert stopped, cartpole_job.log[-3000:]
    assert float(stopped[1]) >= 150 and int(stopped[2]) >= 10
    assert float(stopped[3]) >= 150 and int(stopped[4]) >= 10
    assert f"Iteration {len(lines)}: " in cartpole_job.log


def test_a_job_leaves_a_training_curve_and_tensorboard_logs(cartpole_job):
    iterations = len(cartpole_job.metric_lines())
    data = cartpole_job.root / "output" / "data"
    assert (data / "training_curve.png").read_bytes()[:4] == b"\x89PNG"
    rows = (data / "training_curve.csv").read_text().splitlines()
    assert len(rows) == 1 + iterations
    assert list((cartpole_job.root / "output" / "tensorboard").glob("events.out.tfevents.*"))
    # Kept beside the checkpoints, for a resumed job's curve.
    assert (cartpole_job.root / "checkpoints" / "training_curve.csv").exists()


def test_model_dir_holds_onnx_checkpoint_and_metadata(cartpole_job):
    model = cartpole_job.root / "model"
    meta = read_json(model / "metadata.json")
    assert meta["algorithm"] == "PPO" and meta["env"] == "CartPole-v1"
    assert meta["framework"] == "torch"
    assert meta["observation_space"]["type"] == "Box"
    assert meta["observation_space"]["shape"] == [4]
    assert meta["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert {"ray", "torch", "gymnasium", "python"} <= set(meta["versions"])
    assert meta["training"]["recent_episode_return_mean"] >= 150
    assert meta["training"]["recent_episodes"] >= 10
    assert meta["training"]["evaluation_return_mean"] >= 150
    assert meta["training"]["evaluation_episodes"] >= 10
    assert meta["training"]["stop_reason"].startswith("mean return")
    assert meta["onnx"]["file"] == "policy.onnx"
    assert (model / "checkpoint" / "rllib_checkpoint.json").exists()
    checkpoints = sorted(p.name for p in (cartpole_job.root / "checkpoints").glob("checkpoint-*"))
    assert checkpoints[-1] == f"checkpoint-{meta['training']['iterations']:06d}"


def test_onnx_policy_picks_the_trained_policys_actions(cartpole_job):
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    model = cartpole_job.root / "model"
    module = RLModule.from_checkpoint(
        model / "checkpoint" / "learner_group" / "learner" / "rl_module" / "default_policy"
    )
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    assert session.get_inputs()[0].shape[0] == "batch"  # dynamic batch dimension

    # Observations the policy really meets, plus random ones from the observation space.
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=0)
    seen = []
    for _ in range(300):
        seen.append(obs)
        action = int(session.run(["actions"], {"observations": obs[None].astype(np.float32)})[0][0])
        obs, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            obs, _ = env.reset()
    observations = np.concatenate(
        [
            np.array(seen, np.float32),
            np.random.default_rng(0).normal(size=(200, 4)).astype(np.float32),
        ]
    )

    actions, logits, probs = session.run(
        ["actions", "action_dist_inputs", "action_probs"],
        {"observations": observations},
    )
    with torch.no_grad():
        expected_logits = module.forward_inference({"obs": torch.from_numpy(observations)})[
            "action_dist_inputs"
        ].numpy()
    assert_same_policy_outputs(actions, logits, expected_logits)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    # One observation at a time works too (batch of 1).
    single = session.run(["actions"], {"observations": observations[:1]})[0]
    assert single.shape == (1,) and single[0] == actions[0]


def test_custom_env_class_from_the_source_directory(tmp_path):
    root = make_job(
        tmp_path / "job",
        {
            **QUICK_PPO,
            "rl_env": "corridor:Corridor",
            "rl_env_config": '{"length": 3}',
            "rl_stop_iterations": "2",
        },
        source_dir=SOURCES / "corridor",
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["env"] == "corridor:Corridor"
    assert meta["env_config"] == {"length": 3}
    assert meta["observation_space"]["high"] == [3.0]
    assert len(result.metric_lines()) == 2


def test_continuous_actions_export_env_ready_actions(tmp_path):
    """Box actions: the ONNX graph maps the policy's output into the env's bounds."""
    root = make_job(
        tmp_path / "job",
        {
            **QUICK_PPO,
            "rl_env": "Pendulum-v1",
            "rl_stop_iterations": "1",
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["action_space"]["type"] == "Box" and meta["action_space"]["high"] == [2.0]
    session = onnxruntime.InferenceSession(str(root / "model" / "policy.onnx"))
    observations = np.random.default_rng(1).normal(size=(64, 3)).astype(np.float32)
    actions, dist_inputs = session.run(
        ["actions", "action_dist_inputs"], {"observations": observations}
    )
    assert actions.shape == (64, 1)
    mean = np.clip(dist_inputs[:, :1], -1, 1)  # RLlib unsquashes [-1, 1] to [low, high]
    np.testing.assert_allclose(actions, -2.0 + (mean + 1.0) * 2.0, atol=1e-5)
    assert math.isfinite(float(actions.max())) and np.all(np.abs(actions) <= 2.0)


def test_a_job_whose_episodes_never_finish_still_succeeds(tmp_path):
    """MountainCar episodes last 200 steps: one 100-step iteration finishes none."""
    root = make_job(
        tmp_path / "job",
        {
            "rl_env": "MountainCar-v0",
            "rl_stop_iterations": "1",
            "rl.training.train_batch_size_per_learner": "100",
            "rl.training.minibatch_size": "50",
            "rl.training.num_epochs": "1",
            "rl.env_runners.num_env_runners": "0",
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.metric_lines()[0]["episode_return_mean"] == "nan"
    assert "no episode finished yet" in result.log
    assert read_json(root / "model" / "metadata.json")["training"]["episode_return_mean"] is None


def test_dqn_exports_the_actions_its_module_computes(tmp_path):
    """DQN's RLModule returns actions (argmax Q), not distribution inputs."""
    root = make_job(
        tmp_path / "job",
        {
            "rl_algorithm": "DQN",
            "rl_stop_iterations": "1",
            "rl.training.num_steps_sampled_before_learning_starts": "100000",
            "rl.env_runners.num_env_runners": "0",
        },
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["algorithm"] == "DQN" and meta["onnx"]["outputs"] == ["actions"]
    session = onnxruntime.InferenceSession(str(root / "model" / "policy.onnx"))
    actions = session.run(["actions"], {"observations": np.zeros((5, 4), np.float32)})[0]
    assert actions.shape == (5,) and set(actions.tolist()) <= {0, 1}


def test_a_policy_onnx_cannot_hold_keeps_its_training_unless_onnx_was_required(tmp_path):
    hyperparameters = {**QUICK_PPO, "rl_env": "switches:Switches", "rl_stop_iterations": "1"}
    root = make_job(tmp_path / "job", hyperparameters, source_dir=SOURCES / "corridor")
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    model = root / "model"
    assert sorted(p.name for p in model.iterdir()) == ["checkpoint", "metadata.json"]
    meta = read_json(model / "metadata.json")
    reason = "ONNX export supports Discrete and Box actions, not MultiDiscrete([2 2])"
    assert meta["not_exported"] == {"ONNX": reason}
    assert f"ONNX not exported ({reason}); model/ holds the checkpoint" in result.log

    required = make_job(
        tmp_path / "required",
        {**hyperparameters, "rl_export_onnx": "true"},
        source_dir=SOURCES / "corridor",
    )
    result = run_train(required)
    assert result.returncode == 1
    assert result.failure == (
        f"rl_export_onnx=true, but the ONNX export failed: {reason} (without "
        "rl_export_onnx=true the job keeps the checkpoint and succeeds); nothing trained is "
        f"lost: checkpoint-000001 (iteration 1) is in {required / 'model' / 'checkpoint'} "
        f"(model.tar.gz) and in {required / 'checkpoints'}"
    )
    # The training is in model.tar.gz all the same: the checkpoint went there before export.
    assert (required / "model" / "checkpoint").is_dir()
