#!/usr/bin/env python3
"""Cluster formation: seconds from starting two containers (algo-1, algo-2 on one Docker
network, SageMaker local-mode style) to the head's "Ray cluster ready" line. Target <= 10 s.

    bench/cluster_bench.py IMAGE_REF
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report

ROOT = Path(__file__).resolve().parents[1]
DOCKER = str(ROOT / "tools" / "docker")
HOSTS = ["algo-1", "algo-2"]
REPEATS = 3
TARGET_S = 10.0


def docker(*args: str, check: bool = True) -> str:
    """stdout and stderr together (container logs go to both)."""
    done = subprocess.run([DOCKER, *args], capture_output=True, text=True, check=check)
    return done.stdout + done.stderr


def job_dir(base: Path, host: str) -> Path:
    root = base / host
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "local_job.py"),
            str(root),
            "--host",
            host,
            "--hosts",
            ",".join(HOSTS),
            "-p",
            "rl_stop_iterations=1",
            "-p",
            "rl.training.train_batch_size_per_learner=200",
            "-p",
            "rl.training.minibatch_size=100",
            "-p",
            "rl.training.num_epochs=1",
        ],
        check=True,
    )
    return root


def once(image: str, base: Path, network: str) -> float:
    roots = {host: job_dir(base, host) for host in HOSTS}
    started = time.monotonic()
    for host in HOSTS:
        docker(
            "run",
            "-d",
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
            image,
            "train",
        )
    try:
        while True:
            logs = docker("logs", HOSTS[0], check=False)
            if "Ray cluster ready" in logs:
                return time.monotonic() - started
            if time.monotonic() - started > 300:
                raise SystemExit("no cluster after 300 s:\n" + logs[-2000:])
            time.sleep(0.1)
    finally:
        for host in HOSTS:
            docker("wait", host, check=False)
            docker("rm", "-f", host, check=False)


def main() -> int:
    image = sys.argv[1]
    network = f"sagemaker-rl-bench-{int(time.time())}"
    docker("network", "create", network)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            times = [once(image, Path(tmp) / str(i), network) for i in range(REPEATS)]
    finally:
        docker("network", "rm", network, check=False)
    print(f"\ncluster formation, 2 containers ({REPEATS} runs)")
    report(Figure("two-host cluster: docker run -> ready", "s", times, TARGET_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
