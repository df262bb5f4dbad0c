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
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report
from startup_bench import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
DOCKER = str(ROOT / "tools" / "docker")
HOSTS = ["algo-1", "algo-2"]
REPEATS = int(os.environ.get("BENCH_CLUSTER_REPEATS", "3"))
TARGET_S = 5.0


def docker(*args: str, check: bool = True) -> str:
    """stdout and stderr together (container logs go to both)."""
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check)
    return done.stdout + done.stderr


# Formation only: the shortest training that still exports.
FORMATION_ONLY = {
    "rl_stop_iterations": "1",
    "rl.training.train_batch_size_per_learner": "200",
    "rl.training.minibatch_size": "100",
    "rl.training.num_epochs": "1",
}


def job_dir(base: Path, host: str, hyperparameters: dict[str, str] = FORMATION_ONLY) -> Path:
    """`/opt/ml` for `host` of the two-host job (tools/local_job.py)."""
    root = base / host
    settings = [arg for name, value in hyperparameters.items() for arg in ("-p", f"{name}={value}")]
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "local_job.py"),
            str(root),
            "--host",
            host,
            "--hosts",
            ",".join(HOSTS),
            *settings,
        ],
        check=True,
    )
    return root


def start_hosts(
    image: str, roots: dict[str, Path], network: str, extra: list[str]
) -> dict[str, Path]:
    """Both hosts' containers, SageMaker local-mode style; returns their cid files."""
    cidfiles = {host: roots[host].parent / f"{host}.cid" for host in HOSTS}
    for host in HOSTS:
        docker(
            "run",
            "-d",
            "--cidfile",
            str(cidfiles[host]),
            "--name",
            host,
            "--hostname",
            host,
            "--network",
            network,
            "--shm-size",
            "512m",
            "-v",
            f"{roots[host]}:/opt/ml",
            *extra,
            image,
            "train",
        )
    return cidfiles


def remove_hosts() -> None:
    for host in HOSTS:
        docker("wait", host, check=False)
        docker("rm", "-f", host, check=False)


def once(image: str, base: Path, network: str, extra: list[str]) -> tuple[float, float]:
    """Seconds to the head's ready line, and the CPU seconds both containers used by then."""
    roots = {host: job_dir(base, host) for host in HOSTS}
    started = time.monotonic()
    cidfiles = start_hosts(image, roots, network, extra)
    try:
        while True:
            logs = docker("logs", HOSTS[0], check=False)
            if "Ray cluster ready" in logs:
                ready = time.monotonic() - started
                return ready, sum(cpu_seconds(cidfiles[host]) for host in HOSTS)
            if time.monotonic() - started > 300:
                raise SystemExit("no cluster after 300 s:\n" + logs[-2000:])
            time.sleep(0.1)
    finally:
        remove_hosts()


def main() -> int:
    image, extra = sys.argv[1], sys.argv[2:]
    network = f"sagemaker-rl-bench-{int(time.time())}"
    docker("network", "create", network)
    runs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(REPEATS):
                base = Path(tmp) / str(i)
                base.mkdir()
                runs.append(once(image, base, network, extra))
                print(
                    f"  run {i + 1}: ready {runs[-1][0]:.2f} s, {runs[-1][1]:.2f} CPU s", flush=True
                )
    finally:
        docker("network", "rm", network, check=False)
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
