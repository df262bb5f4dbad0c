#!/usr/bin/env python3
"""A soak of the serve-only image: SOAK_MINUTES (10) minutes of wrk at 32 connections on
/invocations, one minute at a time, as a steady endpoint sees it: each minute's p50 and p99,
its answers that were not 2xx, and the server's resident memory (every process in the
container) at the minute's end. Targets: no non-2xx answer at all; resident memory grows
<= 5% from minute 1 to the last.

    bench/soak_bench.py SERVE_IMAGE_REF [MODEL_BASE_DIR]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from figures import Figure, report
from measure import DOCKER, WRK_SCRIPT, containers, free_port, serving_model, wait_for_ping, wrk
from serve_image_bench import resident_mb

MINUTES = int(os.environ.get("SOAK_MINUTES", "10"))
TARGET_GROWTH_PERCENT = 5.0


def main() -> int:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    image = sys.argv[1]
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    model = serving_model(Path(sys.argv[2]) if len(sys.argv) > 2 else work / "job")
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT)
    port = free_port()
    name = containers.unique_name("serve-soak")
    subprocess.run(
        [DOCKER, "run", "-d", "--rm", "--name", name, "--read-only",
         "-p", f"127.0.0.1:{port}:8080", "-v", f"{model}:/opt/ml/model:ro", image, "serve"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    minutes = []
    try:
        wait_for_ping(port)
        for minute in range(1, MINUTES + 1):
            result = wrk(port, script, threads=2, connections=32, duration_s=60)
            minutes.append({**result, "rss_mb": resident_mb(name)})
            print(
                f"minute {minute}: p50 {result['p50_us'] / 1000:.2f} ms, p99 "
                f"{result['p99_us'] / 1000:.2f} ms, {result['requests']} requests, "
                f"{result['errors']} errors, {minutes[-1]['rss_mb']:.1f} MB resident",
                flush=True,
            )
    finally:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True)
    per_minute = ", ".join(
        f"{i}: {m['p50_us'] / 1000:.2f}/{m['p99_us'] / 1000:.2f}" for i, m in enumerate(minutes, 1)
    )
    errors = sum(m["errors"] for m in minutes)
    growth = (minutes[-1]["rss_mb"] / minutes[0]["rss_mb"] - 1) * 100
    where = f"{image}, wrk -t2 -c32 on the same {os.cpu_count()} CPUs, --read-only"
    print(f"\nsoak: {MINUTES} minutes, {where}")
    report(
        Figure(
            "soak p50 latency, per minute",
            "ms",
            [m["p50_us"] / 1000 for m in minutes],
            note=f"minute: p50/p99 ms: {per_minute}",
        )
    )
    report(Figure("soak p99 latency, per minute", "ms", [m["p99_us"] / 1000 for m in minutes]))
    report(
        Figure(
            "soak answers that were not 2xx",
            "answers",
            [float(errors)],
            0.0,
            note=f"{sum(m['requests'] for m in minutes)} requests in {MINUTES} minutes, {where}",
        )
    )
    report(
        Figure(
            "soak resident memory growth, minute 1 to the last",
            "%",
            [growth],
            TARGET_GROWTH_PERCENT,
            note="resident MB per minute: " + ", ".join(f"{m['rss_mb']:.1f}" for m in minutes),
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
