#!/usr/bin/env python3
"""Distributed rollouts: one training job on two hosts (algo-1, algo-2), each a container on a
Docker network as SageMaker runs an instance_count=2 job. The hosts form one Ray cluster from
resourceconfig.json; env runners (rollout workers) run on both, the learner on the head, and
only the head exports the model. The environment is a simulator stand-in (object tracking)
from the source directory, which every host loads."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import example, outputs_check

HOSTS = ["algo-1", "algo-2"]
HYPERPARAMETERS = {
    "rl_algorithm": "PPO",
    "rl_env": "tracker:ObjectTracker",
    "rl_env_config": {"step_ms": 1},
    "rl_stop_iterations": 15,
    "rl_cluster_timeout": 180,
    "rl.training.lr": 0.001,
    # The simulator is the slow part: every CPU but the driver's goes to rollouts. (The zero-code
    # plan would give each host a learner, which pays off where learning is the bottleneck.)
    "rl.learners.num_learners": 0,
}
SHORT = {
    "rl_stop_iterations": 2,
    "rl.training.train_batch_size_per_learner": 600,
    "rl.training.num_epochs": 2,
}


def main() -> int:
    run = example("distributed-rollouts", __doc__)
    jobs = run.train_cluster(
        {**HYPERPARAMETERS, **(SHORT if run.short else {})}, HOSTS, source_dir=run.source_dir
    )
    head, worker = jobs["algo-1"], jobs["algo-2"]
    outputs_check(run, head)
    run.check("the worker host exits 0", worker.returncode == 0)
    placement = next((line for line in head.log.splitlines() if "Env runners per host" in line), "")
    run.check("env runners on both hosts", "algo-1 x" in placement and "algo-2 x" in placement)
    run.check("only the head exports", not any((worker.root / "model").iterdir()))
    if head.succeeded:
        # The first iterations may end before any episode does (return nan): compare from the
        # first one that reports a return (a short run may have none).
        returns = [
            m["episode_return_mean"]
            for m in head.metrics
            if not math.isnan(m["episode_return_mean"])
        ] or [math.nan]
        run.figures.update(
            placement=placement.split("Env runners per host: ")[-1],
            hosts=head.training["hosts"],
            first_return=round(returns[0], 2),
            final_return=round(returns[-1], 2),
        )
        if not run.short:
            run.check("the tracker learned (return rose)", returns[-1] > returns[0])
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
