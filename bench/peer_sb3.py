#!/usr/bin/env python3
"""The peer for `make bench`: Stable-Baselines3 PPO on CartPole-v1 with rl-baselines3-zoo's tuned
settings (hyperparams/ppo.yml: 8 envs, n_steps 32, batch 256, gae_lambda 0.8, gamma 0.98,
20 epochs, ent_coef 0, learning rate lin_0.001 and clip range lin_0.2 over 1e5 steps), stopped
by the same rule as ours and exported to ONNX, as a user of SB3 would write it.

    build/bench/peer-venv/bin/python bench/peer_sb3.py OUT_DIR

Runs in its own venv (bench/peer-requirements.txt). The stop rule is ours (stopping.py and
config.py defaults): the mean return of the last 10 finished training episodes reaches 450, then
the policy acting greedily reaches it over 10 evaluation episodes; otherwise training goes on.
Writes OUT_DIR/policy.onnx (input "observations", outputs "actions" and "logits") and
OUT_DIR/result.json (steps, training seconds, evaluation), then exits: the caller times the
whole process and checks the exported policy on fresh episodes itself.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

ENV = "CartPole-v1"
TARGET = 450.0
RECENT_EPISODES = 10  # ours: rl_stop_mean_return_episodes
EVALUATION_EPISODES = 10  # ours: rl_stop_evaluation_episodes
ZOO = {  # rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 ("# Tuned")
    "n_envs": 8,
    "n_timesteps": 100_000,
    "n_steps": 32,
    "batch_size": 256,
    "gae_lambda": 0.8,
    "gamma": 0.98,
    "n_epochs": 20,
    "ent_coef": 0.0,
    "learning_rate": 1e-3,  # lin_0.001
    "clip_range": 0.2,  # lin_0.2
}


def linear(start: float):
    """The zoo's lin_X: X times the remaining fraction of n_timesteps."""
    return lambda progress_remaining: progress_remaining * start


def greedy_return(model: PPO, episodes: int, seed: int) -> float:
    env = gym.make(ENV)
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


class StopAtTarget(BaseCallback):
    """Ours checks after every iteration (sample, then update): the mean of the last
    RECENT_EPISODES training episodes, then a greedy evaluation of the updated policy. SB3's
    iteration is one rollout then one update, so the check runs as the next rollout starts and
    ends training at its first step, before anything changes the evaluated policy."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluations: list[float] = []
        self.evaluation_s = 0.0
        self.recent_mean = float("nan")
        self.solved = False

    def _on_rollout_start(self) -> None:
        episodes = [info["r"] for info in self.model.ep_info_buffer]
        if len(episodes) < RECENT_EPISODES:
            return
        self.recent_mean = float(np.mean(episodes[-RECENT_EPISODES:]))
        if self.recent_mean < TARGET:
            return
        started = time.monotonic()
        seed = 10_000 * (len(self.evaluations) + 1)
        evaluated = greedy_return(self.model, EVALUATION_EPISODES, seed)
        self.evaluation_s += time.monotonic() - started
        self.evaluations.append(evaluated)
        self.solved = evaluated >= TARGET

    def _on_step(self) -> bool:
        return not self.solved


class Greedy(torch.nn.Module):
    """Observations in, greedy action and logits out (what ours exports for a discrete space)."""

    def __init__(self, policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.policy.extract_features(observations, self.policy.pi_features_extractor)
        latent_pi = self.policy.mlp_extractor.forward_actor(features)
        logits = self.policy.action_net(latent_pi)
        return torch.argmax(logits, dim=-1), logits


def export(model: PPO, path: Path) -> None:
    policy = Greedy(model.policy).eval()
    sample = torch.zeros((1, *model.observation_space.shape), dtype=torch.float32)
    torch.onnx.export(
        policy,
        (sample,),
        str(path),
        dynamo=False,  # the TorchScript exporter, as ours (the dynamo one needs onnxscript)
        input_names=["observations"],
        output_names=["actions", "logits"],
        dynamic_axes={name: {0: "batch"} for name in ("observations", "actions", "logits")},
    )


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    env = make_vec_env(ENV, n_envs=ZOO["n_envs"])
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=ZOO["n_steps"],
        batch_size=ZOO["batch_size"],
        gae_lambda=ZOO["gae_lambda"],
        gamma=ZOO["gamma"],
        n_epochs=ZOO["n_epochs"],
        ent_coef=ZOO["ent_coef"],
        learning_rate=linear(ZOO["learning_rate"]),
        clip_range=linear(ZOO["clip_range"]),
        device="cpu",
        verbose=0,
    )
    stop = StopAtTarget()
    started = time.monotonic()
    model.learn(total_timesteps=ZOO["n_timesteps"], callback=stop)
    training_s = time.monotonic() - started
    export(model, out / "policy.onnx")
    result = {
        "solved": stop.solved,
        "timesteps": int(model.num_timesteps),
        "training_s": training_s,
        "evaluation_s": stop.evaluation_s,
        "recent_episode_return_mean": stop.recent_mean,
        "evaluations": stop.evaluations,
    }
    (out / "result.json").write_text(json.dumps(result))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
