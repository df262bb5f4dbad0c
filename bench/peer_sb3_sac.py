#!/usr/bin/env python3
"""The peer of bench/sac_bench.py: Stable-Baselines3 SAC on Pendulum-v1 with rl-baselines3-zoo's
tuned settings (hyperparams/sac.yml, Pendulum-v1: MlpPolicy, learning rate 1e-3, the rest SB3's
defaults: buffer 1e6, batch 256, 100 random steps first, one gradient step per env step, tau
0.005, gamma 0.99, entropy coefficient learned, two 256-unit layers), stopped by the same rule as
ours and exported to ONNX, as a user of SB3 would write it.

    build/bench/peer-venv/bin/python bench/peer_sb3_sac.py OUT_DIR

The stop rule is ours (stopping.py, config.py defaults) with rl_stop_mean_return=-200: the mean
return of the last 10 finished training episodes reaches -200, then the policy acting
deterministically reaches it over 10 evaluation episodes; otherwise training goes on (to
MAX_TIMESTEPS). Writes OUT_DIR/policy.onnx (input "observations", output "actions", in the
env's action range) and OUT_DIR/result.json, then exits: the caller times the whole process and
checks the exported policy on fresh episodes itself.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import SAC
from stable_baselines3.common.callbacks import BaseCallback

ENV = "Pendulum-v1"
TARGET = -200.0
RECENT_EPISODES = 10  # ours: rl_stop_mean_return_episodes
EVALUATION_EPISODES = 10  # ours: rl_stop_evaluation_episodes
# The zoo trains for 20,000 steps; the cap is higher so that a slow run still ends on the rule.
MAX_TIMESTEPS = 60_000
ZOO = {"learning_rate": 1e-3}  # rl-baselines3-zoo hyperparams/sac.yml, Pendulum-v1


def deterministic_return(model: SAC, episodes: int, seed: int) -> float:
    env = gym.make(ENV)
    returns = []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(observation, deterministic=True)
            observation, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


class StopAtTarget(BaseCallback):
    """Ours checks after every iteration; SB3's SAC updates after every env step, so the check
    runs when an episode ends (the only time the recent mean can change)."""

    def __init__(self) -> None:
        super().__init__()
        self.evaluations: list[float] = []
        self.evaluation_s = 0.0
        self.recent_mean = float("nan")
        self.solved = False
        self.episodes_seen = 0

    def _on_step(self) -> bool:
        episodes = [info["r"] for info in self.model.ep_info_buffer]
        finished = sum(1 for done in self.locals["dones"] if done)
        if not finished:
            return True
        self.episodes_seen += finished
        if len(episodes) < RECENT_EPISODES:
            return True
        self.recent_mean = float(np.mean(episodes[-RECENT_EPISODES:]))
        if self.recent_mean < TARGET:
            return True
        started = time.monotonic()
        seed = 10_000 * (len(self.evaluations) + 1)
        evaluated = deterministic_return(self.model, EVALUATION_EPISODES, seed)
        self.evaluation_s += time.monotonic() - started
        self.evaluations.append(evaluated)
        self.solved = evaluated >= TARGET
        return not self.solved


class Deterministic(torch.nn.Module):
    """Observations in, the deterministic action in the env's range out (what ours exports for
    a Box action space)."""

    def __init__(self, model: SAC) -> None:
        super().__init__()
        self.actor = model.policy.actor
        space = model.action_space
        self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
        self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        squashed = self.actor(observations, deterministic=True)  # tanh: in [-1, 1]
        return self.low + (squashed + 1.0) * (self.high - self.low) / 2.0


def export(model: SAC, path: Path) -> None:
    policy = Deterministic(model).eval()
    sample = torch.zeros((1, *model.observation_space.shape), dtype=torch.float32)
    torch.onnx.export(
        policy,
        (sample,),
        str(path),
        dynamo=False,  # the TorchScript exporter, as ours (the dynamo one needs onnxscript)
        input_names=["observations"],
        output_names=["actions"],
        dynamic_axes={name: {0: "batch"} for name in ("observations", "actions")},
    )


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    model = SAC("MlpPolicy", gym.make(ENV), device="cpu", verbose=0, **ZOO)
    stop = StopAtTarget()
    started = time.monotonic()
    model.learn(total_timesteps=MAX_TIMESTEPS, callback=stop)
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
