#!/usr/bin/env python3
"""Serving figures: single-observation latency (p50/p99) and throughput of `serve` in the image,
reached the way a user reaches it, through Docker's port mapping (`docker run -p ... serve` with
the model directory mounted), beside the floor: the same policy called in-process with
onnxruntime. Targets: p50 <= 0.6 ms, >= 5,000 req/s.

    bench/serve_bench.py IMAGE_REF [MODEL_BASE_DIR]
    bench/serve_bench.py --venv [MODEL_BASE_DIR]      (this venv's `sagemaker-rl serve` instead)

Without a model it trains a small CartPole policy first (in this venv). Load comes from wrk
(Debian's `wrk`, installed by `make bench`) on loopback; the server runs with its defaults (one
worker per CPU). Prints a table; a figure that misses its target says MISSED.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import Figure, report
from measure import DOCKER, WRK_SCRIPT, containers, free_port, serving_model, wait_for_ping, wrk

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGET_P50_MS = 0.6
TARGET_RPS = 5000
DURATION_S = int(os.environ.get("BENCH_SERVE_DURATION_S", "10"))
REPEATS = int(os.environ.get("BENCH_SERVE_REPEATS", "3"))


def in_process_us(model: Path) -> list[float]:
    import numpy as np
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"), options)
    obs = np.array([[0.01, -0.02, 0.03, 0.04]], np.float32)
    for _ in range(200):
        session.run(["actions"], {"observations": obs})
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(2000):
            session.run(["actions"], {"observations": obs})
        samples.append((time.perf_counter() - start) / 2000 * 1e6)
    return samples


class Container:
    """`serve` in the image, its port 8080 published on a loopback port of this machine."""

    def __init__(self, image: str, model_dir: Path, port: int) -> None:
        self.name = containers.unique_name(f"serve-bench-{port}")
        publish = ["-p", f"127.0.0.1:{port}:8080", "-v", f"{model_dir}:/opt/ml/model:ro"]
        subprocess.run(
            [DOCKER, "run", "-d", "--rm", "--name", self.name, *publish, image, "serve"],
            check=True,
            capture_output=True,
        )

    def terminate(self) -> None:
        subprocess.run([DOCKER, "stop", "-t", "10", self.name], capture_output=True)

    def wait(self, timeout: float) -> None:
        pass


def main() -> int:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make bench installs Debian's wrk)")
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    image = None if sys.argv[1] == "--venv" else sys.argv[1]
    work = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    base = Path(sys.argv[2]) if len(sys.argv) > 2 else work / "job"
    serving_model(base)
    port = free_port()
    if image:
        server = Container(image, base / "model", port)
        where = f"{image} through docker run -p"
    else:
        env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), SAGEMAKER_BIND_TO_PORT=str(port))
        server = subprocess.Popen(
            [str(BIN / "sagemaker-rl"), "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        where = "this venv"
    try:
        wait_for_ping(port)
        script = work / "post.lua"
        script.write_text(WRK_SCRIPT)
        latency = [
            wrk(port, script, threads=1, connections=1, duration_s=DURATION_S)
            for _ in range(REPEATS)
        ]
        load = [
            wrk(port, script, threads=2, connections=32, duration_s=DURATION_S)
            for _ in range(REPEATS)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = in_process_us(base / "model")

    p50 = [r["p50_us"] / 1000 for r in latency]
    p99 = [r["p99_us"] / 1000 for r in latency]
    rps = [r["requests"] / (r["duration_us"] / 1e6) for r in load]
    errors = sum(r["errors"] for r in latency + load)
    print(
        f"\nserve benchmark, {where}: {os.cpu_count()} CPUs, {REPEATS} runs of {DURATION_S} s "
        f"each, {errors} errors"
    )
    ratio = statistics.median(p50) * 1000 / statistics.median(baseline)
    report(
        Figure(
            "serve p50 latency, 1 connection",
            "ms",
            p50,
            TARGET_P50_MS,
            note=f"served by {where}; {ratio:.0f}x the in-process call",
            invalid=f"{errors} request errors" if errors else "",
        )
    )
    report(Figure("serve p99 latency, 1 connection", "ms", p99))
    report(
        Figure(
            "serve throughput, 32 connections",
            "req/s",
            rps,
            TARGET_RPS,
            higher_is_better=True,
            note=f"served by {where}, wrk -t2 -c32 on the same {os.cpu_count()} CPUs",
            invalid=f"{errors} request errors" if errors else "",
        )
    )
    report(
        Figure(
            "serve floor: in-process onnxruntime call, 1 observation",
            "us",
            baseline,
            note="the same policy.onnx, one intra-op thread, no HTTP: what serving adds is p50 "
            "minus this",
        )
    )
    print(
        json.dumps(
            {"p50_ms": p50, "p99_ms": p99, "rps": rps, "in_process_us": baseline, "errors": errors}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
