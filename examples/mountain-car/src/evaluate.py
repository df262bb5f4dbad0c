"""Run the trained policy in the plain gymnasium env (unshaped reward) and a random policy
beside it; print success rate and mean return of each as JSON.

Runs in the training image over a finished job: `python3 /opt/ml/code/evaluate.py
--continuous` loads the exported policy from /opt/ml/model as the serving container does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mountain_car import env_id, normalize_obs

from sagemaker_rl_container.serving.load import load_policy


def play(env: gym.Env, choose, seed: int) -> tuple[float, bool]:
    observation, _ = env.reset(seed=seed)
    total, terminated, truncated = 0.0, False, False
    while not (terminated or truncated):
        observation, reward, terminated, truncated, _ = env.step(choose(observation))
        total += float(reward)
    return total, bool(terminated)  # terminated: the car reached the flag


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/model"))
    parser.add_argument("--continuous", action="store_true")
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    policy = load_policy(args.model_dir)
    env = gym.make(env_id(args.continuous))
    seeds = range(20_000, 20_000 + args.episodes)

    def trained(observation: np.ndarray):
        actions = np.asarray(policy.predict(normalize_obs(observation).tolist()).outputs["actions"])
        if args.continuous:
            return actions.reshape(env.action_space.shape).astype(np.float32)
        return int(actions.flat[0])

    env.action_space.seed(0)
    results = {}
    for name, choose in (("policy", trained), ("random", lambda _: env.action_space.sample())):
        outcomes = [play(env, choose, seed) for seed in seeds]
        results[f"{name}_return_mean"] = float(np.mean([ret for ret, _ in outcomes]))
        results[f"{name}_success_rate"] = float(np.mean([ok for _, ok in outcomes]))
    print(json.dumps({"episodes": args.episodes, **results}))


if __name__ == "__main__":
    main()
