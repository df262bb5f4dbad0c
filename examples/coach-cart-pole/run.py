#!/usr/bin/env python3
"""Cart-pole with RL Coach, as SageMaker's rl_cartpole_coach notebook ran it: an entry script
on `SageMakerCoachPresetLauncher` (src/train-coach.py) and two presets, Clipped PPO and DQN,
one job each, on gym's CartPole-v0. Full run: each job stops once its evaluation episodes
average the environment's success threshold (195), and must get there."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import COACH_IMAGE, example, outputs_check

# A uniformly random policy on CartPole-v0 (measured in the image: 22.2 over 1000 episodes).
RANDOM_RETURN = 22.0
SOLVED = 195.0  # CartPole-v0's reward_threshold, Coach's success threshold
SHORT_MARGIN = 20.0  # short runs: the last evaluation beats random play by this much

JOBS = {
    # job name: (hyperparameters, short-run overrides)
    "clipped-ppo": (
        {"rl_apply_stop_condition": True, "training_steps": 100 * 2048, "discount": 0.99},
        {"training_steps": 4 * 2048, "evaluation_episodes": 5},
    ),
    "dqn": (
        {
            "RLCOACH_PRESET": "preset-cartpole-dqn",
            "rl_apply_stop_condition": True,
            "training_steps": 100000,
            "learning_rate": 0.001,
        },
        {"training_steps": 6000, "evaluation_episodes": 5},
    ),
}


def main() -> int:
    run = example("coach-cart-pole", __doc__, default_image=COACH_IMAGE)
    run.figures["random_return"] = RANDOM_RETURN
    for name, (hyperparameters, short) in JOBS.items():
        job = run.train(
            {**hyperparameters, **(short if run.short else {})},
            job=name,
            source_dir=run.source_dir,
            program="train-coach.py",
        )
        outputs_check(run, job)
        if not job.succeeded:
            continue
        evaluations = [
            m["evaluation_return_mean"] for m in job.metrics if "evaluation_return_mean" in m
        ]
        last = evaluations[-1] if evaluations else 0.0
        run.figures[name] = {
            "iterations": job.training["iterations"],
            "env_steps": job.training["timesteps"],
            "evaluation_return": round(last, 1),
            "best_evaluation_return": round(max(evaluations, default=0.0), 1),
            "seconds": round(job.metrics[-1]["time_total_s"], 1),
        }
        if run.short:
            run.check(
                f"{name}: last evaluation return >= random ({RANDOM_RETURN:g}) + {SHORT_MARGIN:g}",
                last >= RANDOM_RETURN + SHORT_MARGIN,
            )
        else:
            run.check(f"{name}: evaluation return >= {SOLVED:g} (solved)", last >= SOLVED)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
