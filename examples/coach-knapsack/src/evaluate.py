"""Score the trained policy against the greedy baseline and a random policy on the same items.

Runs in the training image over a finished job (`python3 /opt/ml/code/evaluate.py`): loads the
exported SavedModel from /opt/ml/model (as TensorFlow Serving would), plays `--episodes` seeded
episodes with its most probable action, with `greedy` (take every item that fits) and with a
coin flip, and prints the mean value each packed as JSON.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from knapsack import Knapsack, greedy


def load_policy(model_dir):
    import tensorflow as tf

    meta = json.loads((model_dir / "metadata.json").read_text())
    model = tf.saved_model.load(str(model_dir / meta["tf_serving"]["path"]))
    serve = model.signatures[meta["tf_serving"]["signature"]]
    (name,) = meta["inputs"]
    head = sorted(meta["outputs"])[-1]  # Clipped PPO: value, then action probabilities

    def act(observation):
        x = tf.constant(np.asarray([observation], dtype=np.float32))
        return int(np.argmax(serve(**{name: x})[head].numpy()[0]))

    return act


def play(env, choose, seed):
    env.seed(seed)
    observation, done, total = env.reset(), False, 0.0
    while not done:
        observation, reward, done, _ = env.step(choose(observation))
        total += reward
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/model"))
    parser.add_argument("--episodes", type=int, default=1000)
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--capacity", type=float, default=30)
    args = parser.parse_args()
    env = Knapsack(items=args.items, capacity=args.capacity)
    seeds = range(100_000, 100_000 + args.episodes)  # item sequences not seen in training
    coin = np.random.RandomState(0)
    policy = load_policy(args.model_dir)
    scores = {
        "rl": [play(env, policy, s) for s in seeds],
        "greedy": [play(env, greedy, s) for s in seeds],
        "random": [play(env, lambda _: int(coin.rand() < 0.5), s) for s in seeds],
    }
    means = {f"{name}_value_mean": float(np.mean(values)) for name, values in scores.items()}
    print(json.dumps({"episodes": args.episodes, **means}))


if __name__ == "__main__":
    main()
