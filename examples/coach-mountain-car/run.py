#!/usr/bin/env python3
"""Mountain car with RL Coach, as SageMaker's rl_mountain_car_coach notebook ran it: Clipped PPO
on gym's MountainCar-v0 (gym 0.12.5, as in the image) through an environment module of the
source directory (src/mountain_car.py: potential-based reward shaping from the car's
mechanical energy, scaled observations), an entry script on `SageMakerCoachPresetLauncher`.
src/evaluate.py then plays the exported policy in the *plain* env on its own reward, beside a
random policy (-200: it never reaches the flag). Full run: the flag reached in at least 90% of
50 unseen episodes and a mean return of -150 or better (random: -200; gym's "solved" line is
-110 over 100 episodes)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import COACH_IMAGE, example, outputs_check

HYPERPARAMETERS = {"training_steps": 40 * 2048, "shaping_scale": 50.0}
SHORT = {"training_steps": 10 * 2048, "evaluation_episodes": 1}
GOAL_SUCCESS_RATE = 0.9
GOAL_RETURN = -150.0
SHORT_MARGIN = 10.0  # short run: a mean plain return at least this much above random's


def main() -> int:
    run = example("coach-mountain-car", __doc__, default_image=COACH_IMAGE)
    job = run.train(
        {**HYPERPARAMETERS, **(SHORT if run.short else {})},
        source_dir=run.source_dir,
        program="train-coach.py",
    )
    outputs_check(run, job)
    if job.succeeded:
        scores = run.python(job, "evaluate.py", "--episodes", "20" if run.short else "50")
        run.figures.update(
            iterations=job.training["iterations"],
            env_steps=job.training["timesteps"],
            training_episode_len_last=round(job.metrics[-1].get("episode_len_mean", 0), 1),
            success_rate=scores["rl_success_rate"],
            return_mean=round(scores["rl_return_mean"], 1),
            random_return_mean=round(scores["random_return_mean"], 1),
            random_success_rate=scores["random_success_rate"],
        )
        if run.short:
            run.check(
                f"plain-env return >= random + {SHORT_MARGIN:g}",
                scores["rl_return_mean"] >= scores["random_return_mean"] + SHORT_MARGIN,
            )
        else:
            run.check(
                f"flag reached in >= {GOAL_SUCCESS_RATE:.0%} of episodes",
                scores["rl_success_rate"] >= GOAL_SUCCESS_RATE,
            )
            run.check(
                f"plain-env return >= {GOAL_RETURN:g}", scores["rl_return_mean"] >= GOAL_RETURN
            )
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
