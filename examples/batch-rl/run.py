#!/usr/bin/env python3
"""Batch (offline) RL. Step 1 records a dataset: a PPO job on CartPole-v1 with
`rl_record_dataset=true` writes every transition it samples to output/data/dataset/ (RLlib's
columnar Parquet). Step 2 trains BC and MARWIL purely from that directory, given to each job as
its `dataset` channel (`rl_offline_channel=dataset`): no env steps are sampled for training;
the env only evaluates the policy (10 greedy episodes per iteration, logged as the usual
episode_return_mean). Step 3 does the same for continuous actions: a Pendulum-v1 dataset
recorded from PPO, and CQL trained from it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import example, outputs_check

RECORD = {
    "rl_algorithm": "PPO",
    "rl_env": "CartPole-v1",
    "rl_stop_iterations": 6,  # a behaviour policy part-way to solving: returns ~50-250
    "rl_record_dataset": True,
}
OFFLINE = {
    "rl_env": "CartPole-v1",
    "rl_offline_channel": "dataset",
    "rl_stop_iterations": 15,
    "rl.training.lr": 0.0008,
    "rl.training.train_batch_size_per_learner": 1024,
}
ALGORITHMS = {"bc": {"rl_algorithm": "BC"}, "marwil": {"rl_algorithm": "MARWIL"}}
SHORT = {"rl_stop_iterations": 2}
# CartPole-v1's random policy returns ~22 an episode; the short form's BC and MARWIL, two
# iterations on the full behaviour dataset, must beat it by this much (the full run: > 100).
RANDOM_RETURN = 22
SHORT_MARGIN = 20
RECORD_CONTINUOUS = {
    "rl_algorithm": "PPO",
    "rl_env": "Pendulum-v1",
    "rl_stop_iterations": 5,
    "rl_record_dataset": True,
}
CQL = {
    "rl_algorithm": "CQL",
    "rl_env": "Pendulum-v1",
    "rl_offline_channel": "dataset",
    "rl_stop_iterations": 8,
    # RLlib's default (20000) trains by behaviour cloning alone for 20k updates first.
    "rl.training.bc_iters": 200,
    "rl.training.train_batch_size_per_learner": 256,
}
SHORT_CONTINUOUS = {"rl_stop_iterations": 1}


def main() -> int:
    run = example("batch-rl", __doc__)
    short = SHORT if run.short else {}
    # The behaviour dataset at full length in either form: what is learned from it is the point.
    recording = run.train(RECORD, job="record")
    dataset = recording.root / "output" / "data" / "dataset"
    files = sorted(dataset.rglob("*.parquet"))
    run.check("step 1 recorded a dataset", recording.succeeded and bool(files))
    behaviour_return = recording.metrics[-1]["episode_return_mean"] if recording.metrics else None
    run.figures["dataset"] = {
        "files": len(files),
        "megabytes": round(sum(f.stat().st_size for f in files) / 1e6, 2),
        "behaviour_policy_return": behaviour_return,
    }
    if not files:
        return run.finish()
    for name, settings in ALGORITHMS.items():
        job = run.train({**OFFLINE, **settings, **short}, job=name, channels={"dataset": dataset})
        outputs_check(run, job)
        if job.succeeded:
            returns = [row["episode_return_mean"] for row in job.metrics]
            run.figures[name] = {
                "iterations": job.training["iterations"],
                "evaluation_return_last": round(returns[-1], 1),
                "evaluation_return_best": round(max(returns), 1),
            }
            run.check(
                f"{name}: trained from the channel, not the env",
                "Training from the offline dataset" in job.log,
            )
            if run.short:
                run.check(
                    f"{name}: best evaluation return beats random ({RANDOM_RETURN}) by >= "
                    f"{SHORT_MARGIN}",
                    max(returns) >= RANDOM_RETURN + SHORT_MARGIN,
                )
            else:
                run.check(
                    f"{name}: best evaluation return above 100 (random: ~22)", max(returns) > 100
                )
    short = SHORT_CONTINUOUS if run.short else {}
    recording = run.train({**RECORD_CONTINUOUS, **short}, job="record-continuous")
    dataset = recording.root / "output" / "data" / "dataset"
    run.check("step 3 recorded a continuous-action dataset", any(dataset.rglob("*.parquet")))
    job = run.train({**CQL, **short}, job="cql", channels={"dataset": dataset})
    outputs_check(run, job)
    if job.succeeded:
        returns = [row["episode_return_mean"] for row in job.metrics]
        run.figures["cql"] = {
            "iterations": job.training["iterations"],
            "behaviour_policy_return": recording.metrics[-1]["episode_return_mean"],
            "evaluation_return_last": round(returns[-1], 1),
            "evaluation_return_best": round(max(returns), 1),
        }
        run.check("cql: trained from the channel", "Training from the offline dataset" in job.log)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
