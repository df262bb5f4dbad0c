"""Record a batch RL dataset: CartPole-v0 transitions of a simple behaviour policy, written in
the CSV layout Coach's `CsvDataset` reads.

The behaviour policy pushes the cart toward the side the pole falls to (sign of
angle + angular velocity) with probability 1 - epsilon/2 and the other way otherwise; epsilon 1
is uniformly random play. Columns, one row per step: `episode_id`, `state_feature_0..3` (the
observation before the step), `action`, `reward`, `all_action_probabilities` (the behaviour
policy's probabilities for both actions in that state, which off-policy evaluation needs).

    python3 record.py --out DIR/cartpole_dataset.csv [--episodes N] [--epsilon E] [--seed S]

Prints a JSON summary last (episodes, transitions, the behaviour policy's mean return).
"""

import argparse
import csv
import json
from pathlib import Path

import gym
import numpy as np


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--epsilon", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    env = gym.make("CartPole-v0")
    env.seed(args.seed)
    rng = np.random.RandomState(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    returns, transitions = [], 0
    with args.out.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(
            ["episode_id"]
            + [f"state_feature_{i}" for i in range(4)]
            + ["action", "reward", "all_action_probabilities"]
        )
        for episode in range(args.episodes):
            observation, done, total = env.reset(), False, 0.0
            while not done:
                preferred = int(observation[2] + observation[3] > 0)
                probabilities = [args.epsilon / 2] * 2
                probabilities[preferred] += 1 - args.epsilon
                action = int(rng.rand() >= probabilities[0])
                following, reward, done, _ = env.step(action)
                writer.writerow(
                    [episode]
                    + [repr(float(x)) for x in observation]
                    + [action, reward, json.dumps(probabilities)]
                )
                observation, total, transitions = following, total + reward, transitions + 1
            returns.append(total)
    print(
        json.dumps(
            {
                "episodes": args.episodes,
                "transitions": transitions,
                "epsilon": args.epsilon,
                "behaviour_return_mean": float(np.mean(returns)),
            }
        )
    )


if __name__ == "__main__":
    main()
