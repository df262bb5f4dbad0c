#!/usr/bin/env python3
"""The baseline for the entrypoint-overhead figure: plain RLlib doing what `train` does for a
zero-code PPO CartPole job (same algorithm settings, same Ray start), with none of our code.
Prints `first-iteration` when the first training iteration has returned."""

from __future__ import annotations

import json
import sys

import ray
from bare_config import rllib_config

# The zero-code PPO job's settings, as `train` configures them (measure.zero_code_sections).
settings = json.loads(sys.argv[1])

# Ray started the way an RLlib script starts it, after the imports (`train` starts its node
# before them, ray_rllib/ray_node.py): no worker prestart unless remote runners, as `train`.
ray.init(
    address="local",
    num_cpus=2,
    include_dashboard=False,
    configure_logging=False,
    _system_config=(
        {}
        if settings["sections"]["env_runners"]["num_env_runners"]
        else {"prestart_worker_first_driver": False}
    ),
)
config = rllib_config(settings)
algo = config.build_algo()
result = algo.train()
print("first-iteration", result["training_iteration"], flush=True)
algo.stop()
ray.shutdown()
