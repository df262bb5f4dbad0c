#!/usr/bin/env python3
"""Where the zero-code job's fixed cost goes: `docker run ... train` (PPO on CartPole-v1, one
iteration) timed line by line, from the `docker run` to

    toolkit    sagemaker-training has imported the framework (container and Python up)
    ray        "Training ... with ..." (logged once ray.init has returned)
    iteration  the first [rl-metrics] line (the first training iteration has returned)
    exit       the container has exited (model exported, curve drawn, Ray shut down)

Figures: docker run -> first iteration, less that iteration's own time_this_iter_s (the fixed
cost before training starts), and the CPU time the container had used by then (its cgroup's
cpuacct, read at each line: on a shared machine the wall clock moves with other jobs' load,
the CPU a job spends much less). The notes give the median of every step.

    bench/startup_bench.py IMAGE_REF [DOCKER_RUN_ARG ...]
Extra arguments go to `docker run` before the image (e.g. `-v FILE:/opt/venv/...` to try a
changed module without rebuilding). Environment: BENCH_STARTUP_REPEATS (5).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report
from training_bench import DOCKER, layout, metrics

REPEATS = int(os.environ.get("BENCH_STARTUP_REPEATS", "5"))
MARKS = {
    "toolkit": "Imported framework",
    "ray": "sagemaker_rl_container.ray_rllib.trainer INFO     Training ",
    "iteration": "[rl-metrics]",
}
JOB = {"rl_algorithm": "PPO", "rl_env": "CartPole-v1", "rl_stop_iterations": 1}


def cpu_seconds(cidfile: Path) -> float:
    """CPU time used so far by the container's processes (cgroup v1 or v2), NaN if unknown."""
    try:
        cid = cidfile.read_text().strip()
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage")
        if v1.exists():
            return int(v1.read_text()) / 1e9
        v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat")
        usage = dict(line.split() for line in v2.read_text().splitlines())
        return int(usage["usage_usec"]) / 1e6
    except (OSError, ValueError, KeyError):
        return math.nan


def once(image: str, root: Path, extra: list[str]) -> dict[str, float]:
    cidfile = root.parent / f"{root.name}.cid"
    started = time.monotonic()
    command = [DOCKER, "run", "--rm", "--cidfile", str(cidfile), "--hostname", "algo-1"]
    proc = subprocess.Popen(
        [*command, "-v", f"{root}:/opt/ml", *extra, image, "train"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen: dict[str, float] = {}
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        for mark, text in MARKS.items():
            if mark not in seen and text in line:
                seen[mark] = time.monotonic() - started
                seen[f"{mark} cpu"] = cpu_seconds(cidfile)
    proc.wait()
    seen["exit"] = time.monotonic() - started
    log = "".join(lines)
    if proc.returncode != 0 or len(seen) != 2 * len(MARKS) + 1:
        sys.exit(f"the start-up run failed (marks seen: {sorted(seen)}):\n{log[-3000:]}")
    seen["first iteration"] = metrics(log)[0]["time_this_iter_s"]
    return seen


def main() -> int:
    image, extra = sys.argv[1], sys.argv[2:]
    print(f"\nstart-up of a zero-code PPO CartPole job in {image}, {REPEATS} runs")
    runs = []
    with tempfile.TemporaryDirectory(prefix="startup-bench-", dir="/var/tmp") as tmp:
        for attempt in range(REPEATS):
            runs.append(once(image, layout(Path(tmp) / str(attempt), JOB), extra))
            run = runs[-1]
            print(
                "  run {}: toolkit {toolkit:.2f} s, ray.init done {ray:.2f} s, 1st iteration "
                "{iteration:.2f} s (itself {first iteration:.2f} s), exit {exit:.2f} s; CPU "
                "used by then: {toolkit cpu:.2f}, {ray cpu:.2f}, {iteration cpu:.2f} s".format(
                    attempt + 1, **run
                ),
                flush=True,
            )
    fixed = [run["iteration"] - run["first iteration"] for run in runs]

    def median(mark: str) -> float:
        return statistics.median(run[mark] for run in runs)

    report(
        Figure(
            "zero-code PPO start-up: docker run -> 1st iteration, less the iteration",
            "s",
            fixed,
            note=f"container + Python + toolkit {median('toolkit'):.2f} s, then job config and "
            f"ray.init {median('ray') - median('toolkit'):.2f} s, then algorithm build + 1st "
            f"iteration {median('iteration') - median('ray'):.2f} s (of which the iteration "
            f"{median('first iteration'):.2f} s), then export and exit "
            f"{median('exit') - median('iteration'):.2f} s (medians, {os.cpu_count()} CPUs)",
        )
    )
    report(
        Figure(
            "zero-code PPO start-up: CPU used, docker run -> 1st iteration",
            "CPU s",
            [run["iteration cpu"] for run in runs],
            note=f"by the toolkit's start {median('toolkit cpu'):.2f}, by ray.init's return "
            f"{median('ray cpu'):.2f}, by the 1st iteration's end {median('iteration cpu'):.2f} "
            f"CPU s (medians)",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
