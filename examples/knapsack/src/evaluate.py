"""Score the trained policy against the greedy baseline, and random packing, on the same items.

Runs in the training image over a finished job (`python3 /opt/ml/code/evaluate.py`): loads the
exported policy from /opt/ml/model as the serving container does, plays `--episodes` seeded
episodes with it, with the greedy rule and with a coin flip per item, and prints the mean value
packed by each as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knapsack import Knapsack, greedy

from sagemaker_rl_container.serving.load import load_policy


def play(env: Knapsack, choose, seed: int) -> float:
    observation, _ = env.reset(seed=seed)
    total, done = 0.0, False
    while not done:
        observation, reward, done, _, _ = env.step(choose(observation))
        total += reward
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/model"))
    parser.add_argument("--episodes", type=int, default=500)
    args = parser.parse_args()
    policy = load_policy(args.model_dir)
    env = Knapsack()
    seeds = range(10_000, 10_000 + args.episodes)  # items the policy never trained on

    def trained(observation: np.ndarray) -> int:
        return int(np.asarray(policy.predict(observation.tolist()).outputs["actions"]).flat[0])

    rl = [play(env, trained, seed) for seed in seeds]
    baseline = [play(env, lambda _: greedy(env), seed) for seed in seeds]
    coin = np.random.default_rng(0)
    randomly = [play(env, lambda _: int(coin.integers(2)), seed) for seed in seeds]
    print(
        json.dumps(
            {
                "episodes": args.episodes,
                "rl_value_mean": float(np.mean(rl)),
                "greedy_value_mean": float(np.mean(baseline)),
                "random_value_mean": float(np.mean(randomly)),
            }
        )
    )


if __name__ == "__main__":
    main()
