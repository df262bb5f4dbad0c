#!/usr/bin/env python3
"""A sweep inside one job against separate jobs (#24): machine time to the same return.

Both sides try the same four learning rates on PPO CartPole-v1 (zero-code defaults otherwise),
each run with the whole machine, each trial or job with the same budget (BUDGET iterations):
- separate jobs: four jobs, one learning rate each, one after another, as a SageMaker tuner
  with max_parallel_jobs=1 on one instance runs its trials; each stops at the return or its
  budget. The tuner knows its best trial once all four ended: the time is their sum. The
  fastest job's own time is printed too (what four instances at once would take to a
  first success, at four times the machines).
- one job: `rl_tune_search=pbt` over the same four values (a population of four trials, one
  starting from each; PBT moves the worst onto the best's weights every PERTURBATION
  iterations, with a neighbouring value or one drawn anew); the
  sweep ends when a trial reaches the return, and exports it.
"Reached" is the same test on both sides: the mean return of the last 10 or more episodes
(the separate jobs skip their evaluation episodes, which the sweep has none of). The exported
policy is then played greedily on EVAL_EPISODES episodes, and its return printed beside the
time.

    bench/sweep_bench.py IMAGE_REF
Environment: BENCH_SWEEP_REPEATS (3 pairs), BENCH_SWEEP_RETURN (400).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from figures import Figure, report
from measure import EVAL_EPISODES, in_image, layout, served_policy_return

REPEATS = int(os.environ.get("BENCH_SWEEP_REPEATS", "3"))
TARGET = float(os.environ.get("BENCH_SWEEP_RETURN", "400"))
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003]
PERTURBATION = 3
BUDGET = 60
COMMON = {
    "rl_algorithm": "PPO",
    "rl_env": "CartPole-v1",
    "rl_stop_mean_return": TARGET,
    "rl_stop_iterations": BUDGET,
}


def separate_jobs(image: str, work: Path) -> tuple[float, float, bool, str]:
    """Four jobs, one after another; the sum of their times, and the best one's policy."""
    total, best, detail = 0.0, None, []
    for i, lr in enumerate(LEARNING_RATES):
        root = layout(
            work / f"job-{i}", {**COMMON, "rl.training.lr": lr, "rl_stop_evaluation_episodes": 0}
        )
        seconds, _ = in_image(image, root)
        total += seconds
        recent = (
            json.loads((root / "model" / "metadata.json").read_text())["training"][
                "recent_episode_return_mean"
            ]
            or 0
        )
        detail.append(f"lr {lr:g}: {seconds:.0f} s, return {recent:.0f}")
        if recent >= TARGET and (best is None or seconds < best[0]):
            best = (seconds, root)
    if best is None:
        return total, float("nan"), False, "; ".join(detail)
    return total, served_policy_return(best[1] / "model"), True, "; ".join(detail)


def one_sweep(image: str, work: Path) -> tuple[float, float, bool, str]:
    root = layout(
        work / "sweep",
        {
            **COMMON,
            "rl_tune_search": "pbt",
            "rl_tune_samples": 1,
            "rl_tune_perturbation_interval": PERTURBATION,
            # the population starts from exactly the four jobs' values
            "rl_tune_space": json.dumps({"rl.training.lr": {"grid": LEARNING_RATES}}),
        },
    )
    seconds, _ = in_image(image, root)
    objective = json.loads((root / "model" / "metadata.json").read_text())["tune"]["objective"]
    trial = json.loads((root / "model" / "metadata.json").read_text())["tune"]
    detail = f"best {trial['trial']} with lr {trial['settings']['rl.training.lr']:g}"
    return seconds, served_policy_return(root / "model"), (objective or 0) >= TARGET, detail


def main() -> None:
    image = sys.argv[1]
    print(
        f"\nPBT sweep in one job vs {len(LEARNING_RATES)} separate jobs, PPO CartPole-v1 to a "
        f"mean return of {TARGET:g}, lr in {LEARNING_RATES}, docker run -> exported ({image})"
    )
    times: dict[str, list[float]] = {"separate": [], "sweep": []}
    unreached: list[str] = []
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        for attempt in range(REPEATS):
            for name, run in (("separate", separate_jobs), ("sweep", one_sweep)):
                seconds, played, reached, detail = run(image, Path(tmp) / f"{attempt}-{name}")
                times[name].append(seconds)
                if not reached:
                    unreached.append(f"{name} run {attempt + 1}")
                print(
                    f"  {name:<9} run {attempt + 1}: {seconds:6.1f} s"
                    f"{'' if reached else ' (return NOT reached)'}, exported policy "
                    f"{played:.1f} over {EVAL_EPISODES} greedy episodes ({detail})",
                    flush=True,
                )
    pairs = [s / w for s, w in zip(times["separate"], times["sweep"], strict=True)]
    report(
        Figure(
            "Time to a return, 4 jobs in turn / one PBT sweep of 4",
            "x",
            pairs,
            1.0,
            higher_is_better=True,
            note=(
                f"separate {sorted(round(t) for t in times['separate'])} s, sweep "
                f"{sorted(round(t) for t in times['sweep'])} s; target return {TARGET:g}"
                + (f"; not reached: {', '.join(unreached)}" if unreached else "")
            ),
            invalid=", ".join(unreached),
        )
    )


if __name__ == "__main__":
    main()
