"""Judge the trained policy in the plain MountainCar-v0, on its own reward (-1 a step, at most
200 steps), beside a uniformly random policy.

Runs in the training image over a finished job (`python3 /opt/ml/code/evaluate.py`): loads the
exported SavedModel from /opt/ml/model, feeds it the plain env's observations scaled as the
wrapper scales them, takes its most probable action, and prints as JSON the mean return and the
share of episodes that reached the flag, for the policy and for random play.
"""

import argparse
import json
import sys
from pathlib import Path

import gym
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mountain_car import GOAL_POSITION, normalize


def load_policy(model_dir):
    import tensorflow as tf

    meta = json.loads((model_dir / "metadata.json").read_text())
    model = tf.saved_model.load(str(model_dir / meta["tf_serving"]["path"]))
    serve = model.signatures[meta["tf_serving"]["signature"]]
    (name,) = meta["inputs"]
    head = sorted(meta["outputs"])[-1]  # Clipped PPO: value, then action probabilities

    def act(observation):
        x = tf.constant(normalize(observation)[None, :])
        return int(np.argmax(serve(**{name: x})[head].numpy()[0]))

    return act


def play(env, choose, seed):
    env.seed(seed)
    observation, done, total = env.reset(), False, 0.0
    while not done:
        observation, reward, done, _ = env.step(choose(observation))
        total += reward
    return total, bool(observation[0] >= GOAL_POSITION)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, default=Path("/opt/ml/model"))
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    env = gym.make("MountainCar-v0")
    seeds = range(10_000, 10_000 + args.episodes)
    rng = np.random.RandomState(0)
    policy = load_policy(args.model_dir)
    result = {"episodes": args.episodes}
    for name, choose in (("rl", policy), ("random", lambda _: int(rng.randint(3)))):
        played = [play(env, choose, seed) for seed in seeds]
        result[f"{name}_return_mean"] = float(np.mean([r for r, _ in played]))
        result[f"{name}_success_rate"] = float(np.mean([ok for _, ok in played]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
