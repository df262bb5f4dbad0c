#!/usr/bin/env python3
"""Ray's own floor for the CartPole time to solve (bench/peer_bench.py): the script an RLlib user
would write to do what the zero-code job does, run in the same image with none of our code.

Same PPO settings as `train` (given as JSON, bench/training_bench.py's zero_code_settings), Ray
started after the imports as an RLlib script starts it, the same stop rule (the mean return of the
last 10 episodes reaches 450, then 10 evaluation episodes acting greedily do) and, at the end, a
checkpoint with algo.save_to_path() (what an RLlib user keeps; ours writes an ONNX policy).

    docker run --rm -v $PWD/bench:/bench:ro --entrypoint python3 IMAGE \
        /bench/bare_rllib_solve.py SETTINGS_JSON OUT_DIR
Prints one JSON line: solved, timesteps, iterations, evaluations.
"""

from __future__ import annotations

import json
import sys

import ray
from ray.rllib.algorithms.ppo import PPOConfig

TARGET = 450.0
EPISODES = 10  # ours: rl_stop_mean_return_episodes, rl_stop_evaluation_episodes
MAX_ITERATIONS = 500

settings = json.loads(sys.argv[1])
ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
config = (
    PPOConfig()
    .environment("CartPole-v1")
    .env_runners(
        num_env_runners=settings["num_env_runners"],
        num_envs_per_env_runner=settings["num_envs_per_env_runner"],
    )
    .training(
        lr=settings["lr"],
        num_epochs=settings["num_epochs"],
        minibatch_size=settings["minibatch_size"],
        train_batch_size_per_learner=settings["train_batch_size_per_learner"],
    )
    .evaluation(
        evaluation_duration=EPISODES,
        evaluation_duration_unit="episodes",
        evaluation_config=PPOConfig.overrides(explore=False),
    )
    .reporting(metrics_num_episodes_for_smoothing=EPISODES)
    .debugging(log_sys_usage=settings["log_sys_usage"])
)
algo = config.build_algo()
evaluations: list[float] = []
solved = False
iterations = 0
while iterations < MAX_ITERATIONS:
    iterations += 1
    result = algo.train()
    runners = result["env_runners"]
    if runners.get("num_episodes_lifetime", 0) < EPISODES:
        continue
    if runners.get("episode_return_mean", float("-inf")) < TARGET:
        continue
    evaluated = algo.evaluate()["env_runners"]["episode_return_mean"]
    evaluations.append(evaluated)
    if evaluated >= TARGET:
        solved = True
        break
algo.save_to_path(sys.argv[2])
timesteps = result["env_runners"]["num_env_steps_sampled_lifetime"]
print(
    json.dumps(
        {
            "solved": solved,
            "timesteps": int(timesteps),
            "iterations": iterations,
            "evaluations": evaluations,
        }
    ),
    flush=True,
)
algo.stop()
ray.shutdown()
