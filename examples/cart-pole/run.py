#!/usr/bin/env python3
"""Cart-pole with Ray PPO, zero code: hyperparameters only. Solves CartPole-v1 (mean return
>= 450) and exports the policy (ONNX + checkpoint) into model/."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import example, outputs_check

HYPERPARAMETERS = {
    "rl_algorithm": "PPO",
    "rl_env": "CartPole-v1",
    "rl_stop_mean_return": 450,
    "rl_stop_iterations": 80,  # a bound, should the run go badly
}
# CartPole-v1's random policy keeps the pole up ~22 steps an episode. The short form (the test
# suite's) stops once the recent mean return beats that by MARGIN, within a bound.
RANDOM_RETURN = 22
MARGIN = 20
SHORT = {"rl_stop_mean_return": RANDOM_RETURN + MARGIN + 5, "rl_stop_iterations": 10}


def main() -> int:
    run = example("cart-pole", __doc__)
    job = run.train({**HYPERPARAMETERS, **(SHORT if run.short else {})})
    outputs_check(run, job)
    if job.succeeded:
        training = job.training
        run.figures.update(
            iterations=training["iterations"],
            env_steps=training["timesteps"],
            # what the stop compared: the mean of the last 10 or more episodes
            mean_return=round(training["recent_episode_return_mean"] or 0, 1),
            episodes=training["recent_episodes"],
            seconds=round(job.metrics[-1]["time_total_s"], 1),
        )
        recent = training["recent_episode_return_mean"] or 0
        if run.short:
            run.check(
                f"mean return of the last 10+ episodes beats random ({RANDOM_RETURN}) by "
                f">= {MARGIN}",
                recent >= RANDOM_RETURN + MARGIN,
            )
        else:
            run.check("mean return of the last 10+ episodes >= 450", recent >= 450)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
