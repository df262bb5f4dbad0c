#!/usr/bin/env python3
"""Batch RL with RL Coach, as SageMaker's rl_cartpole_batch_coach notebook ran it: first record
a dataset of CartPole-v0 transitions from a behaviour policy (src/record.py, in the image: CSV
in Coach's `CsvDataset` layout), then train DDQN-BCQ from that CSV alone, given to the job as
the input channel `dataset`, with an entry script on `SageMakerCoachPresetLauncher`. The
trained policy never acts during training; each iteration logs off-policy estimates (ope_*)
and plays a few evaluation episodes in the simulator to show how it does. Full run: the last
evaluation averages at least 150 (random play: 22; the behaviour policy's mean is reported)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import COACH_IMAGE, Job, example, outputs_check

RANDOM_RETURN = 22.0  # a uniformly random policy on CartPole-v0 (measured in the image: 22.2)
GOAL = 150.0
SHORT_MARGIN = 30.0  # short run: the last evaluation beats random play by this much
# Behaviour policy: the pole-angle rule, with half of its actions uniformly random.
RECORD = {"episodes": 300, "epsilon": 0.5}
SHORT_RECORD = {"episodes": 100, "epsilon": 0.5}
HYPERPARAMETERS = {"epochs": 40, "evaluation_episodes": 10}
SHORT = {"epochs": 20, "evaluation_episodes": 5}


def main() -> int:
    run = example("coach-batch-rl", __doc__, default_image=COACH_IMAGE)

    # Step 1: record the dataset, in the image, into the recording job's output/data/dataset/.
    record = run.job_dir("record")
    if record.exists():
        shutil.rmtree(record)
    run.layout(record, {}, source_dir=run.source_dir)
    options = SHORT_RECORD if run.short else RECORD
    recorded = run.python(
        Job(record, 0, ""),
        "record.py",
        "--out",
        "/opt/ml/output/data/dataset/cartpole_dataset.csv",
        "--episodes",
        str(options["episodes"]),
        "--epsilon",
        str(options["epsilon"]),
    )
    dataset = record / "output" / "data" / "dataset"
    run.figures["dataset"] = recorded
    run.check("dataset recorded", (dataset / "cartpole_dataset.csv").exists())

    # Step 2: train from the channel only.
    job = run.train(
        {**HYPERPARAMETERS, **(SHORT if run.short else {})},
        source_dir=run.source_dir,
        program="train-coach.py",
        channels={"dataset": dataset},
    )
    outputs_check(run, job)
    if job.succeeded:
        evaluations = [
            m["evaluation_return_mean"] for m in job.metrics if "evaluation_return_mean" in m
        ]
        last = evaluations[-1] if evaluations else 0.0
        final = job.metrics[-1]
        run.figures.update(
            iterations=job.training["iterations"],
            evaluation_return=round(last, 1),
            best_evaluation_return=round(max(evaluations, default=0.0), 1),
            ope_wis=round(final.get("ope_wis", float("nan")), 3),
            ope_dr=round(final.get("ope_dr", float("nan")), 3),
            random_return=RANDOM_RETURN,
        )
        run.check("off-policy estimates logged", "ope_wis" in final and "ope_dr" in final)
        if run.short:
            run.check(
                f"last evaluation return >= random ({RANDOM_RETURN:g}) + {SHORT_MARGIN:g}",
                last >= RANDOM_RETURN + SHORT_MARGIN,
            )
        else:
            run.check(f"last evaluation return >= {GOAL:g}", last >= GOAL)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
