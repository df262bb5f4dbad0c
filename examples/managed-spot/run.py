#!/usr/bin/env python3
"""Managed spot training: a job interrupted part-way (SIGTERM, as a spot interruption or
StopTrainingJob delivers it) and started again with the same /opt/ml/checkpoints resumes from
its last checkpoint and finishes with the combined iteration count.

On SageMaker: `use_spot_instances=True`, `max_wait`, and `checkpoint_s3_uri` on the Estimator;
SageMaker syncs /opt/ml/checkpoints to S3 and back into the restarted job."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import example, outputs_check, parse_line, stop

HYPERPARAMETERS = {
    "rl_algorithm": "PPO",
    "rl_env": "CartPole-v1",
    "rl_stop_iterations": 12,
    "rl_checkpoint_frequency": 2,
}
SHORT = {
    "rl_stop_iterations": 4,
    "rl.training.train_batch_size_per_learner": 1000,
    "rl.training.num_epochs": 2,
}
INTERRUPT_AFTER = {False: 6, True: 2}  # iteration, by --short


def main() -> int:
    run = example("managed-spot", __doc__)
    hyperparameters = {**HYPERPARAMETERS, **(SHORT if run.short else {})}
    interrupt_after = INTERRUPT_AFTER[run.short]
    container = run.container_name()

    def interrupt_at_iteration(line: str) -> None:
        metrics = parse_line(line)
        if metrics and metrics.get("iteration") == interrupt_after:
            print(f"== interrupting the job after iteration {interrupt_after} (docker stop)")
            threading.Thread(target=stop, args=(container,), daemon=True).start()

    first = run.train(hyperparameters, on_line=interrupt_at_iteration)
    run.check("the interrupted job exits 143 (SIGTERM)", first.returncode == 143)
    run.check("the interrupted job saved a checkpoint", "saved in" in (first.failure or ""))
    print(f"== interrupted: {first.failure}")

    second = run.train(hyperparameters, fresh=False)  # same /opt/ml/checkpoints
    outputs_check(run, second)
    if second.succeeded:
        training = second.training
        resumed_at = int(second.metrics[0]["iteration"]) if second.metrics else 0
        run.figures.update(
            first_run_iterations=int(first.metrics[-1]["iteration"]) if first.metrics else 0,
            resumed_from=training["resumed_from"],
            second_run_first_iteration=resumed_at,
            total_iterations=training["iterations"],
        )
        run.check("the restarted job resumed from a checkpoint", bool(training["resumed_from"]))
        run.check("it continued, not restarted", resumed_at > interrupt_after)
        run.check(
            "it finished with the combined iteration count",
            training["iterations"] == hyperparameters["rl_stop_iterations"],
        )
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
