#!/usr/bin/env python3
"""Managed spot training with RL Coach, as SageMaker's rl_managed_spot_cartpole_coach notebook
ran it: Clipped PPO on CartPole-v0 from an entry script on `SageMakerCoachPresetLauncher`. The
first job is stopped with `docker stop` (SIGTERM, then 120 s before SIGKILL, as a spot
interruption or StopTrainingJob) part-way; it checkpoints and exits 143. The second job, started
on the same /opt/ml/checkpoints, resumes from that checkpoint (iteration, step counts, network)
and trains only what is left. Full run: it ends at the planned 12 iterations in total, and its
last evaluation averages the environment's success threshold (195).

On SageMaker: `use_spot_instances=True, max_wait=7200, max_run=3600,
checkpoint_s3_uri="s3://BUCKET/PREFIX/checkpoints"` on the Estimator."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from local import COACH_IMAGE, example, outputs_check, parse_line, stop

STEPS_PER_ITERATION = 2048  # the preset's evaluation period
ITERATIONS = {False: 12, True: 6}  # by --short
INTERRUPT_AFTER = {False: 5, True: 2}  # iteration, by --short
RANDOM_RETURN = 22.0  # CartPole-v0, uniformly random (measured in the image: 22.2)
SOLVED = 195.0
SHORT_MARGIN = 20.0  # short run: the last evaluation beats random play by this much


def main() -> int:
    run = example("coach-managed-spot", __doc__, default_image=COACH_IMAGE)
    iterations = ITERATIONS[run.short]
    interrupt_after = INTERRUPT_AFTER[run.short]
    hyperparameters = {
        "training_steps": iterations * STEPS_PER_ITERATION,
        "evaluation_episodes": 5 if run.short else 10,
        "rl_checkpoint_frequency": 1,
    }
    container = run.container_name()

    def interrupt_at_iteration(line: str) -> None:
        metrics = parse_line(line)
        if metrics and metrics.get("iteration") == interrupt_after:
            print(f"== interrupting the job after iteration {interrupt_after} (docker stop)")
            threading.Thread(target=stop, args=(container,), daemon=True).start()

    common = {"source_dir": run.source_dir, "program": "train-coach.py"}
    first = run.train(hyperparameters, on_line=interrupt_at_iteration, **common)
    run.check("the interrupted job exits 143 (SIGTERM)", first.returncode == 143)
    run.check("the interrupted job saved a checkpoint", "saved in" in (first.failure or ""))
    print(f"== interrupted: {first.failure}")

    second = run.train(hyperparameters, fresh=False, **common)  # same /opt/ml/checkpoints
    outputs_check(run, second)
    if second.succeeded:
        training = second.training
        resumed_at = int(second.metrics[0]["iteration"]) if second.metrics else 0
        evaluations = [
            m["evaluation_return_mean"] for m in second.metrics if "evaluation_return_mean" in m
        ]
        last = evaluations[-1] if evaluations else 0.0
        run.figures.update(
            first_run_iterations=int(first.metrics[-1]["iteration"]) if first.metrics else 0,
            resumed_from=training["resumed_from"],
            second_run_first_iteration=resumed_at,
            total_iterations=training["iterations"],
            env_steps=training["timesteps"],
            evaluation_return=round(last, 1),
        )
        run.check("the restarted job resumed from a checkpoint", bool(training["resumed_from"]))
        run.check("it continued, not restarted", resumed_at > interrupt_after)
        run.check(
            "it finished with the combined iteration count", training["iterations"] == iterations
        )
        if run.short:
            run.check(
                f"last evaluation return >= random ({RANDOM_RETURN:g}) + {SHORT_MARGIN:g}",
                last >= RANDOM_RETURN + SHORT_MARGIN,
            )
        else:
            run.check(f"last evaluation return >= {SOLVED:g}", last >= SOLVED)
    return run.finish()


if __name__ == "__main__":
    sys.exit(main())
