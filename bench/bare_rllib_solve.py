#!/usr/bin/env python3
"""Ray's own floor (bench/peer_bench.py, matched_bench.py, sac_bench.py): the script an RLlib user
would write to do what a zero-code job does, run in the same image with none of our code.

The settings `train` uses (bench/measure.py's zero_code_sections, as JSON, plus any the bench
sets for both sides), Ray started after the imports as an RLlib script starts it, and one of two
stop rules:
- to solve (settings' "target"): the mean return of the last 10 episodes reaches the target,
  then 10 evaluation episodes acting greedily do, as `rl_stop_mean_return` stops a job; at most
  "cap_s" seconds of training; at the end a checkpoint with algo.save_to_path() (what an RLlib
  user keeps; ours writes an ONNX policy);
- a fixed amount of work (settings' "iterations"), for a throughput: env steps per second of
  RLlib's time_total_s over the iterations after the first, as bench/matched_bench.py reads
  ours.

    docker run --rm -v $PWD/bench:/bench:ro --entrypoint python3 IMAGE \
        /bench/bare_rllib_solve.py SETTINGS_JSON OUT_DIR
Prints one JSON line: solved, timesteps, iterations, evaluations, rate.
"""

from __future__ import annotations

import json
import sys
import time

import ray
from bare_config import rllib_config

EPISODES = 10  # ours: rl_stop_mean_return_episodes, rl_stop_evaluation_episodes

settings = json.loads(sys.argv[1])
target = settings.get("target")
iterations_wanted = settings.get("iterations")
cap_s = float(settings.get("cap_s", 900))
ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
config = rllib_config(settings)
config.evaluation(
    evaluation_duration=EPISODES,
    evaluation_duration_unit="episodes",
    evaluation_config=type(config).overrides(explore=False),
)
config.reporting(metrics_num_episodes_for_smoothing=EPISODES)
algo = config.build_algo()
evaluations: list[float] = []
solved = False
iterations = 0
started = time.monotonic()
first: dict = {}
while True:
    iterations += 1
    result = algo.train()
    runners = result["env_runners"]
    if iterations == 1:
        first = {"steps": runners["num_env_steps_sampled_lifetime"], "s": result["time_total_s"]}
    if iterations_wanted is not None:
        if iterations >= iterations_wanted:
            break
        continue
    if time.monotonic() - started > cap_s:
        break
    if runners.get("num_episodes_lifetime", 0) < EPISODES:
        continue
    if runners.get("episode_return_mean", float("-inf")) < target:
        continue
    evaluated = algo.evaluate()["env_runners"]["episode_return_mean"]
    evaluations.append(evaluated)
    if evaluated >= target:
        solved = True
        break
if iterations_wanted is None:
    algo.save_to_path(sys.argv[2])
timesteps = result["env_runners"]["num_env_steps_sampled_lifetime"]
elapsed = result["time_total_s"] - first["s"]
print(
    json.dumps(
        {
            "solved": solved,
            "timesteps": int(timesteps),
            "iterations": iterations,
            "evaluations": evaluations,
            "rate": (timesteps - first["steps"]) / elapsed if elapsed > 0 else None,
        }
    ),
    flush=True,
)
algo.stop()
ray.shutdown()
