#!/usr/bin/env python3
"""Where the zero-code job's fixed cost goes: `docker run ... train` (PPO on CartPole-v1, one
iteration) timed line by line, from the `docker run` to

    toolkit    sagemaker-training has imported the framework (container and Python up)
    config     the driver has imported RLlib and built its config (then it connects to Ray,
               whose node has been starting beside it: the job logs how long it waited)
    ray        "Training ... with ..." (logged once the driver has connected to Ray)
    iteration  the first [rl-metrics] line (the first training iteration has returned)
    exit       the container has exited (model exported, curve drawn, Ray shut down)

Figures: docker run -> first iteration, less that iteration's own time_this_iter_s (the fixed
cost before training starts), and the CPU time the container had used by then (its cgroup's
cpuacct, read at each line: on a shared machine the wall clock moves with other jobs' load,
the CPU a job spends much less). The notes give the median of every step.

Then where Ray's start goes, process by process: the container's /tmp/ray is a directory of
this machine, so that each Ray process's own log gives when it started and when it was ready
(`ray start`'s CLI, GCS, the API server `ray start` waits for, the raylet and its two agents,
which it waits for before it registers), against when the driver had built its configuration
and when it had connected; and at the first iteration each process's CPU time so far
(/proc/PID/stat in the container, read once, in the last run).

    bench/startup_bench.py IMAGE_REF [DOCKER_RUN_ARG ...]
Extra arguments go to `docker run` before the image (e.g. `-v FILE:/opt/venv/...` to try a
changed module without rebuilding). Environment: BENCH_STARTUP_REPEATS (5).
"""

from __future__ import annotations

import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from figures import Figure, report
from measure import DOCKER, cpu_seconds, layout, metrics

REPEATS = int(os.environ.get("BENCH_STARTUP_REPEATS", "5"))
MARKS = {
    "toolkit": "Imported framework",
    "connected": "Connected to this host's Ray node",
    "ray": "sagemaker_rl_container.ray_rllib.trainer INFO     Training ",
    "iteration": "[rl-metrics]",
}
# (step, Ray log file under the session's logs/, first line's pattern, last line's pattern):
# seconds after `docker run` of the first line matching each (None: the file's first/last).
RAY_STEPS = (
    ("ray start CLI up", "ray-node.log", None, r"Local node IP"),
    ("GCS", "gcs_server.out", None, r"GcsServer server started"),
    ("API server (waited for)", "dashboard.log", None, None),
    ("raylet: plasma store", "raylet.out", r"store_runner.cc", r"ObjectManager server started"),
    ("raylet: waits for its agents", "raylet.out", r"Monitor agent process", r"Raylet of id"),
    ("dashboard agent", "dashboard_agent.log", None, None),
    ("runtime env agent", "runtime_env_agent.log", None, None),
)
NODE_LOG = "ray-node.log"  # ray start's own output, in the job's output/data/ray/
# Process kinds by command line, for the CPU each had used by the first iteration.
PROCESS_KINDS = (
    ("ray start CLI", "bin/ray start"),
    ("GCS", "gcs_server"),
    ("raylet", "raylet/raylet"),
    ("API server", "dashboard/dashboard.py"),
    ("dashboard agent", "ray::DashboardAgent"),
    ("runtime env agent", "ray::RuntimeEnvAgent"),
    ("log monitor", "log_monitor.py"),
    ("Ray workers", "ray::"),  # their process titles, once named
    ("driver (the job)", ""),
)
STAMP = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}),(\d{3})")
JOB = {"rl_algorithm": "PPO", "rl_env": "CartPole-v1", "rl_stop_iterations": 1}


def seconds_after(
    stamped: list[tuple[str, re.Match]], pattern: str | None, last: bool, start: float
):
    """When the first (or last) of the log's lines matching `pattern` was written, in seconds
    after `start` (a wall-clock time); None if no line matches."""
    for line, match in reversed(stamped) if last else stamped:
        if pattern is None or re.search(pattern, line):
            stamp = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S").timestamp()
            return stamp + int(match.group(2)) / 1000 - start
    return None


def log_steps(ray_dir: Path, job: Path, wall_start: float) -> dict[str, tuple[float, float]]:
    """Each RAY_STEPS step's (start, end) in seconds after `docker run`, from the logs."""
    sessions = sorted(ray_dir.glob("session_2*"))
    steps: dict[str, tuple[float, float]] = {}
    for step, name, first, last in RAY_STEPS:
        if name == NODE_LOG:
            path = job / "output" / "data" / "ray" / NODE_LOG
        elif sessions:
            path = sessions[-1] / "logs" / name
        else:
            continue
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError:
            continue
        stamped = [(line, m) for line in lines if (m := STAMP.search(line))]
        begin = seconds_after(stamped, first, False, wall_start)
        end = seconds_after(stamped, last, last is None, wall_start)
        if begin is not None and end is not None:
            steps[step] = (begin, end)
    return steps


def process_cpu(cid: str) -> dict[str, float]:
    """CPU seconds each kind of process in the container has used so far."""
    script = (
        "for p in /proc/[0-9]*; do s=$(cat $p/stat 2>/dev/null) || continue; "
        'printf "%s\\t" "$(echo "$s" | cut -d" " -f14,15)"; '
        'tr "\\0" " " < $p/cmdline 2>/dev/null | cut -c1-300; echo; done'
    )
    out = subprocess.run(
        [DOCKER, "exec", cid, "sh", "-c", script], capture_output=True, text=True, check=False
    ).stdout
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for line in out.splitlines():
        times, _, command = line.partition("\t")
        if not command.strip() or "/proc/[0-9]" in command or command.startswith(("tini", "cut")):
            continue
        try:
            utime, stime = (int(field) for field in times.split())
        except ValueError:
            continue
        kind = next(k for k, marker in PROCESS_KINDS if marker in command)
        used[kind] = used.get(kind, 0.0) + (utime + stime) / ticks
    return used


def once(image: str, root: Path, extra: list[str], profile: bool) -> dict[str, float]:
    cidfile = root.parent / f"{root.name}.cid"
    ray_dir = root.parent / f"{root.name}-ray"
    ray_dir.mkdir()
    ray_dir.chmod(0o777)
    started, wall_start = time.monotonic(), time.time()
    command = [DOCKER, "run", "--rm", "--cidfile", str(cidfile), "--hostname", "algo-1"]
    proc = subprocess.Popen(
        [*command, "-v", f"{root}:/opt/ml", "-v", f"{ray_dir}:/tmp/ray", *extra, image, "train"],
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
                seen[f"{mark} cpu"] = cpu_seconds(cidfile.read_text().strip())
                if mark == "iteration" and profile:
                    cpu = process_cpu(cidfile.read_text().strip())
    proc.wait()
    seen["exit"] = time.monotonic() - started
    log = "".join(lines)
    if proc.returncode != 0 or len(seen) != 2 * len(MARKS) + 1:
        sys.exit(f"the start-up run failed (marks seen: {sorted(seen)}):\n{log[-3000:]}")
    seen["first iteration"] = metrics(log)[0]["time_this_iter_s"]
    waited = re.search(r"configuration was ready ([\d.]+) s before that", log)
    seen["waited"] = float(waited[1]) if waited else math.nan
    seen["config"] = seen["connected"] - seen["waited"]
    for step, (begin, end) in log_steps(ray_dir, root, wall_start).items():
        seen[f"{step} from"], seen[f"{step} to"] = begin, end
    if profile:
        for kind, seconds in cpu.items():
            seen[f"{kind} cpu s"] = seconds
    return seen


def main() -> int:
    image, extra = sys.argv[1], sys.argv[2:]
    print(f"\nstart-up of a zero-code PPO CartPole job in {image}, {REPEATS} runs")
    runs = []
    with tempfile.TemporaryDirectory(prefix="startup-bench-", dir="/var/tmp") as tmp:
        for attempt in range(REPEATS):
            job = layout(Path(tmp) / str(attempt) / "job", JOB)
            runs.append(once(image, job, extra, profile=attempt == REPEATS - 1))
            run = runs[-1]
            print(
                "  run {}: toolkit {toolkit:.2f} s, config {config:.2f} s, Ray connected "
                "{ray:.2f} s, 1st iteration {iteration:.2f} s (itself {first iteration:.2f} s), "
                "exit {exit:.2f} s; CPU "
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
            f"connecting to Ray (which starts beside them) "
            f"{median('ray') - median('toolkit'):.2f} s, then algorithm build + 1st iteration "
            f"{median('iteration') - median('ray'):.2f} s (of which the iteration "
            f"{median('first iteration'):.2f} s), then export and exit "
            f"{median('exit') - median('iteration'):.2f} s (medians, {os.cpu_count()} CPUs)",
        )
    )
    report(
        Figure(
            "zero-code PPO start-up: CPU used, docker run -> 1st iteration",
            "CPU s",
            [run["iteration cpu"] for run in runs],
            note=f"by the toolkit's start {median('toolkit cpu'):.2f}, by the driver's "
            f"connection to Ray {median('ray cpu'):.2f}, by the 1st iteration's end "
            f"{median('iteration cpu'):.2f} "
            f"CPU s (medians)",
        )
    )
    steps = [step for step, *_ in RAY_STEPS if all(f"{step} from" in run for run in runs)]
    critical = "; ".join(
        f"{step} {median(f'{step} from'):.2f}-{median(f'{step} to'):.2f}" for step in steps
    )
    last = runs[-1]
    cpu = ", ".join(
        f"{kind} {last[f'{kind} cpu s']:.2f}"
        for kind, _ in PROCESS_KINDS
        if f"{kind} cpu s" in last
    )
    report(
        Figure(
            "zero-code PPO start-up: driver waits for Ray after its config is built",
            "s",
            [run["waited"] for run in runs],
            note=f"seconds after docker run (medians): the driver imports RLlib and builds its "
            f"config until {median('config'):.2f} while Ray starts beside it: {critical}; the "
            f"driver connected at {median('connected'):.2f}. CPU seconds by the 1st iteration "
            f"(last run): {cpu}",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
