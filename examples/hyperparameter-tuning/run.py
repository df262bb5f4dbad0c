#!/usr/bin/env python3
"""Hyperparameter tuning: the metric definitions the image prints (`docker run IMAGE
metric-definitions`) are what SageMaker's HyperparameterTuner reads job logs with. This runs a
few trials locally with different learning rates, reads each trial's objective from its log with
those same regexes, and picks the best, as the tuner would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import DOCKER, example, outputs_check

OBJECTIVE = "episode_return_mean"
HYPERPARAMETERS = {
    "rl_algorithm": "PPO",
    "rl_env": "CartPole-v1",
    "rl_stop_iterations": 6,
    # What a tuning job adds beside the tuned values; the launcher must accept it.
    "_tuning_objective_metric": OBJECTIVE,
}
SHORT = {
    "rl_stop_iterations": 2,
    "rl.training.train_batch_size_per_learner": 1000,
    "rl.training.num_epochs": 2,
}
LEARNING_RATES = [0.00001, 0.0003, 0.003]


def main() -> int:
    run = example("hyperparameter-tuning", __doc__)
    definitions = json.loads(
        subprocess.run(
            [DOCKER, "run", "--rm", run.image, "metric-definitions"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    regex = next(item["Regex"] for item in definitions if item["Name"] == OBJECTIVE)
    print(f"== objective {OBJECTIVE}: regex {regex!r} (from the image's metric definitions)")

    objectives = {}
    agree = True
    for lr in LEARNING_RATES:
        trial = f"lr-{lr:g}"
        job = run.train(
            {**HYPERPARAMETERS, **(SHORT if run.short else {}), "rl.training.lr": lr}, job=trial
        )
        outputs_check(run, job)
        # The tuner's reading of the log: the last value the regex finds.
        values = [float(value) for value in re.findall(regex, job.log)]
        objectives[trial] = values[-1] if values else None
        if job.succeeded and values:
            agree &= abs(values[-1] - job.training["episode_return_mean"]) < 1e-3
    best = max((t for t in objectives if objectives[t] is not None), key=objectives.get)
    run.figures.update(objectives={t: round(v, 1) for t, v in objectives.items() if v}, best=best)
    run.check("every trial's log yields the objective", None not in objectives.values())
    run.check("the log's last objective equals the exported model's", agree)
    print(f"== best trial: {best} ({OBJECTIVE}={objectives[best]:.1f})")
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
