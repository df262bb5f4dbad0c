#!/usr/bin/env python3
"""Training figures, each a comparison measured within this one run:

1. Time to solve CartPole-v1 (PPO, mean return >= 450), `docker run` to the container's exit
   with the model exported, with our zero-code defaults vs. SageMaker's cart-pole Ray example
   configuration (train batch 25000, 20 SGD iterations, minibatch 1000, lr 1e-4, kl_coeff 1.0,
   one env per runner as it sets no vectorisation) in the same image; env runners follow the
   image's resource default in both. Target: ours >= 8x faster. "Solved" is checked twice: the
   job's own stop condition, then the exported policy, acting greedily for EVAL_EPISODES
   episodes, must reach the same mean return.
2. Container overhead: env steps per second of the same training in the image / in a bare venv.
   Target >= 0.97.
3. Entrypoint overhead: process start -> first training iteration, `sagemaker-rl train` minus a
   bare RLlib script with the same settings (bench/bare_rllib.py). Target <= 1.5 s.

    bench/training_bench.py IMAGE_REF
Run it with the bare venv's interpreter (make bench does: build/bench/venv, the image's Python
build where this machine has it): `train` and the bare script run in that venv.
Environment: BENCH_SOLVE_REPEATS (3), BENCH_REPEATS (3), BENCH_CONTAINER_REPEATS (5: image and
venv rates vary ~10% run to run on a shared machine), BENCH_SOLVE_CAP_S (1500: a run that has
not solved by then stops, and its time is a lower bound, said so in the output).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from figures import ROOT, Figure, report
from measure import (
    EVAL_EPISODES,
    SOLVE,
    in_image,
    in_venv,
    layout,
    metrics,
    served_policy_return,
    timed,
    zero_code_sections,
)

SOLVE_REPEATS = int(os.environ.get("BENCH_SOLVE_REPEATS", "3"))
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
CONTAINER_REPEATS = int(os.environ.get("BENCH_CONTAINER_REPEATS", "5"))
SOLVE_CAP_S = float(os.environ.get("BENCH_SOLVE_CAP_S", "1500"))

SAGEMAKER_EXAMPLE = {
    "rl.training.train_batch_size_per_learner": 25000,
    "rl.training.num_epochs": 20,
    "rl.training.minibatch_size": 1000,
    "rl.training.lr": 0.0001,
    "rl.training.kl_coeff": 1.0,
    # The example does not vectorise: RLlib's default, not this image's zero-code 8.
    "rl.env_runners.num_envs_per_env_runner": 1,
}
# Long enough (~20,000 env steps, ~8 s of sampling here) that start-up jitter does not swamp
# the rate: 5 iterations of 1,000 steps gave ratios from 0.77 to 1.09 in one run.
FIXED_WORK = {"rl_algorithm": "PPO", "rl_env": "CartPole-v1", "rl_stop_iterations": 20}


def bare(settings: dict) -> tuple[float, str]:
    command = [sys.executable, str(ROOT / "bench" / "bare_rllib.py"), json.dumps(settings)]
    return timed(command, dict(os.environ), "first-iteration")


def time_to_solve(image: str, work: Path) -> None:
    print(f"\ntime to solve CartPole-v1 (mean return >= 450) in {image}, docker run -> exported")
    runs: dict[str, list[float]] = {"ours": [], "sagemaker example": []}
    capped: dict[str, int] = {"ours": 0, "sagemaker example": 0}
    weak_policy: dict[str, int] = {"ours": 0, "sagemaker example": 0}
    configs = {
        "ours": {**SOLVE, "rl_stop_seconds": SOLVE_CAP_S},
        "sagemaker example": {**SOLVE, **SAGEMAKER_EXAMPLE, "rl_stop_seconds": SOLVE_CAP_S},
    }
    for attempt in range(SOLVE_REPEATS):
        for name, hyperparameters in configs.items():
            root = layout(work / f"solve-{attempt}-{name.replace(' ', '-')}", hyperparameters)
            seconds, _ = in_image(image, root)
            training = json.loads((root / "model" / "metadata.json").read_text())["training"]
            evaluated = served_policy_return(root / "model")
            # the mean the job's stop compared: its last 10 or more episodes
            reached = (training["recent_episode_return_mean"] or 0) >= 450
            capped[name] += not reached
            weak_policy[name] += reached and evaluated < 450
            solved = reached and evaluated >= 450
            runs[name].append(seconds)
            print(
                f"  {name:<18} run {attempt + 1}: {seconds:7.1f} s, {training['iterations']} "
                f"iterations, return {training['recent_episode_return_mean'] or 0:.1f} over the "
                f"last {training['recent_episodes']} episodes, exported policy "
                f"{evaluated:.1f} over {EVAL_EPISODES} episodes"
                f"{'' if solved else ' (NOT solved)'}",
                flush=True,
            )
    ratio = statistics.median(runs["sagemaker example"]) / statistics.median(runs["ours"])
    pairs = [
        theirs / ours for theirs, ours in zip(runs["sagemaker example"], runs["ours"], strict=True)
    ]
    notes = [
        f"ours {statistics.median(runs['ours']):.0f} s, SageMaker example config "
        f"{statistics.median(runs['sagemaker example']):.0f} s (medians)"
    ]
    if capped["sagemaker example"]:
        notes.append(
            f"{capped['sagemaker example']} SageMaker-config run(s) had not solved by the "
            f"{SOLVE_CAP_S:.0f} s cap: the ratio is a lower bound"
        )
    invalid = []
    if capped["ours"]:
        invalid.append(f"{capped['ours']} run(s) of ours did not solve within the cap")
    for name, count in weak_policy.items():
        if count:
            invalid.append(
                f"{count} run(s) of {name} stopped at 450 but the exported policy averaged less "
                f"over {EVAL_EPISODES} episodes"
            )
    report(
        Figure(
            "CartPole time to solve, SageMaker example config / ours",
            "x",
            pairs,
            8.0,
            higher_is_better=True,
            value_override=ratio,
            low=min(pairs),
            high=max(pairs),
            note="; ".join(notes + invalid),
            invalid="; ".join(invalid),
        )
    )


def container_overhead(image: str, work: Path) -> None:
    print(f"\ncontainer overhead: env steps/s of the same job ({FIXED_WORK}) in image vs venv")
    rates: dict[str, list[float]] = {"image": [], "venv": []}
    for attempt in range(CONTAINER_REPEATS):
        for where in ("venv", "image"):
            root = layout(work / f"overhead-{attempt}-{where}", FIXED_WORK)
            _, log = in_image(image, root) if where == "image" else in_venv(root)
            last = metrics(log)[-1]
            rates[where].append(last["timesteps_total"] / last["time_total_s"])
            print(
                f"  {where:<6} run {attempt + 1}: {rates[where][-1]:8.0f} env steps/s", flush=True
            )
    pairs = [image / venv for image, venv in zip(rates["image"], rates["venv"], strict=True)]
    report(
        Figure(
            "container overhead: env steps/s in image / venv",
            "ratio",
            pairs,
            0.97,
            higher_is_better=True,
            value_override=statistics.median(rates["image"]) / statistics.median(rates["venv"]),
            low=min(pairs),
            high=max(pairs),
            note=f"image {statistics.median(rates['image']):.0f}, venv "
            f"{statistics.median(rates['venv']):.0f} env steps/s (medians)",
        )
    )


def entrypoint_overhead(work: Path) -> None:
    settings = zero_code_sections()
    print(f"\nentrypoint overhead: start -> first iteration, train vs bare RLlib ({settings})")
    times: dict[str, list[float]] = {"train": [], "bare": []}
    for attempt in range(REPEATS):
        root = layout(work / f"entrypoint-{attempt}", {**FIXED_WORK, "rl_stop_iterations": 1})
        seconds, _ = in_venv(root, until="[rl-metrics]")
        times["train"].append(seconds)
        seconds, _ = bare(settings)
        times["bare"].append(seconds)
        print(
            f"  run {attempt + 1}: train {times['train'][-1]:.2f} s, "
            f"bare {times['bare'][-1]:.2f} s",
            flush=True,
        )
    differences = [
        ours - theirs for ours, theirs in zip(times["train"], times["bare"], strict=True)
    ]
    report(
        Figure(
            "entrypoint overhead: train - bare RLlib, start -> 1st iteration",
            "s",
            differences,
            1.5,
            value_override=statistics.median(times["train"]) - statistics.median(times["bare"]),
            low=min(differences),
            high=max(differences),
            note=f"train {statistics.median(times['train']):.2f} s, bare RLlib "
            f"{statistics.median(times['bare']):.2f} s (medians)",
        )
    )


def main() -> int:
    image = sys.argv[1]
    only = set(sys.argv[2:])
    work = Path(tempfile.mkdtemp(prefix="training-bench-", dir="/var/tmp"))
    try:
        if not only or "entrypoint" in only:
            entrypoint_overhead(work)
        if not only or "container" in only:
            container_overhead(image, work)
        if not only or "solve" in only:
            time_to_solve(image, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
