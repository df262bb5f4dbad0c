#!/usr/bin/env python3
"""Knapsack: a custom gymnasium environment written in the example's source directory, trained
by name (`rl_env=knapsack:Knapsack`) with Ray PPO; the trained policy's packed value is compared
with a greedy baseline (take every item that fits) on the same unseen items."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import example, outputs_check

HYPERPARAMETERS = {
    "rl_algorithm": "PPO",
    "rl_env": "knapsack:Knapsack",
    "rl_env_config": {"items": 20, "capacity": 40},
    "rl_stop_iterations": 15,
}
SHORT = {"rl_stop_iterations": 2}
# Learning shows first against a coin flip per item: the short form's policy must get at least
# half-way from random packing to the greedy rule; beating greedy takes the full run.


def main() -> int:
    run = example("knapsack", __doc__)
    job = run.train({**HYPERPARAMETERS, **(SHORT if run.short else {})}, source_dir=run.source_dir)
    outputs_check(run, job)
    if job.succeeded:
        scores = run.python(job, "evaluate.py", "--episodes", "100" if run.short else "500")
        run.figures.update(
            iterations=job.training["iterations"],
            rl_value_mean=round(scores["rl_value_mean"], 2),
            greedy_value_mean=round(scores["greedy_value_mean"], 2),
            random_value_mean=round(scores["random_value_mean"], 2),
        )
        run.check("policy evaluated against the greedy baseline", scores["episodes"] > 0)
        random, greedy = scores["random_value_mean"], scores["greedy_value_mean"]
        run.check(
            "RL policy gets at least half-way from random packing to greedy",
            scores["rl_value_mean"] >= random + 0.5 * (greedy - random),
        )
        if not run.short:
            run.check(
                "RL policy packs more value than greedy",
                scores["rl_value_mean"] > scores["greedy_value_mean"],
            )
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
