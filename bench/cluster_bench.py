#!/usr/bin/env python3
"""Cluster formation: seconds from starting two containers (algo-1, algo-2 on one Docker
network, SageMaker local-mode style) to the head's "Ray cluster ready" line. Target <= 5 s.
Beside it, the CPU time both containers had used by then (their cgroups' cpuacct): on this
machine's 2 CPUs that total, halved, is the least wall time any overlap could reach, and it does
not move with other jobs' load as the wall clock does.

    bench/cluster_bench.py IMAGE_REF [DOCKER_RUN_ARG ...]
Extra arguments go to each `docker run` before the image (e.g. `-v FILE:/opt/venv/...` to try
a changed module without rebuilding). Environment: BENCH_CLUSTER_REPEATS (3).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report
from measure import containers, cpu_seconds, layout

HOSTS = ["algo-1", "algo-2"]
REPEATS = int(os.environ.get("BENCH_CLUSTER_REPEATS", "3"))
TARGET_S = 5.0
# Formation only: the shortest training that still exports.
FORMATION_ONLY = {
    "rl_stop_iterations": 1,
    "rl.training.train_batch_size_per_learner": 200,
    "rl.training.minibatch_size": 100,
    "rl.training.num_epochs": 1,
}


def once(image: str, base: Path, extra: list[str]) -> tuple[float, float]:
    """Seconds to the head's ready line, and the CPU seconds both containers used by then."""
    roots = [layout(base / host, FORMATION_ONLY, host=host, hosts=HOSTS) for host in HOSTS]
    with containers.hosts(image, roots, docker_args=extra, prefix="sagemaker-rl-bench") as job:
        head = job.hosts[HOSTS[0]]
        while True:
            if "Ray cluster ready" in head.logs():
                ready = time.monotonic() - job.started
                return ready, sum(cpu_seconds(host.id) for host in job.hosts.values())
            if time.monotonic() - job.started > 300:
                raise SystemExit("no cluster after 300 s:\n" + head.logs()[-2000:])
            time.sleep(0.1)


def main() -> int:
    image, extra = sys.argv[1], sys.argv[2:]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(REPEATS):
            runs.append(once(image, Path(tmp) / str(i), extra))
            print(f"  run {i + 1}: ready {runs[-1][0]:.2f} s, {runs[-1][1]:.2f} CPU s", flush=True)
    times, cpu = [run[0] for run in runs], [run[1] for run in runs]
    print(f"\ncluster formation, 2 containers ({REPEATS} runs)")
    report(
        Figure(
            "two-host cluster: docker run -> ready",
            "s",
            times,
            TARGET_S,
            note=f"both containers had used {statistics.median(cpu):.1f} CPU s by then "
            f"(median; {os.cpu_count()} CPUs here, so >= "
            f"{statistics.median(cpu) / (os.cpu_count() or 1):.1f} s of wall time at best)",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
