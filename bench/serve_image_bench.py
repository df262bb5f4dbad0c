#!/usr/bin/env python3
"""The serve-only image against the training image, serving the same ONNX model: each image's
size, and its cold start as a serverless endpoint pays it on every scale-up from zero:
`docker run` (the model mounted read-only, 1 GB of memory) to the first `/ping` 200, and to the
first `/invocations` answer, plus the container's resident memory once it has answered.
Targets: serve-only cold start <= 1 s (to the first answer), image <= 15% of the training
image's size.

    bench/serve_image_bench.py SERVE_IMAGE_REF TRAINING_IMAGE_REF [MODEL_BASE_DIR]

Starts alternate between the two images, RUNS of each, so both see the same machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from figures import Figure, report
from measure import DOCKER, containers, docker, free_port, serving_model

RUNS = int(os.environ.get("BENCH_COLD_START_RUNS", "5"))
TARGET_COLD_START_S = 1.0
TARGET_SIZE_RATIO = 0.15
SERVERLESS = ("--memory", "1g", "--memory-swap", "1g")


def cold_start(image: str, model: Path) -> tuple[float, float, float]:
    """Seconds from `docker run` to the first /ping 200 and to the first answer, and the
    container's resident memory (MB, every process) after that answer."""
    port = free_port()
    name = containers.unique_name("serve-cold-start")
    start = time.perf_counter()
    subprocess.run(
        [DOCKER, "run", "-d", "--rm", "--name", name, *SERVERLESS,
         "-p", f"127.0.0.1:{port}:8080", "-v", f"{model}:/opt/ml/model:ro", image, "serve"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.HTTPError):
                if time.perf_counter() - start > 60:
                    sys.exit(f"{image} did not answer /ping within 60 s")
                time.sleep(0.005)
        ping = time.perf_counter() - start
        request = urllib.request.Request(
            f"{url}/invocations",
            data=b"[0.01, -0.02, 0.03, 0.04]",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            json.loads(response.read())
        answer = time.perf_counter() - start
        return ping, answer, resident_mb(name)
    finally:
        subprocess.run([DOCKER, "rm", "-f", name], capture_output=True)


def resident_mb(container: str) -> float:
    """RSS of every process of the server in the container, from /proc (the serve-only image
    has no ps), not counting the shell and cat that read it."""
    status = docker("exec", container, "sh", "-c", "cat /proc/[0-9]*/status").stdout
    total_kb = 0
    for block in status.split("Name:")[1:]:
        name = block.split()[0]
        rss = [line.split()[1] for line in block.splitlines() if line.startswith("VmRSS:")]
        if name not in ("sh", "cat") and rss:
            total_kb += int(rss[0])
    return total_kb / 1024


def size_mb(image: str) -> float:
    return int(docker("image", "inspect", "-f", "{{.Size}}", image).stdout) / 1e6


def main() -> int:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    serve_image, training_image = sys.argv[1], sys.argv[2]
    base = Path(sys.argv[3]) if len(sys.argv) > 3 else Path(tempfile.mkdtemp()) / "job"
    model = serving_model(base)
    samples: dict[str, list[tuple[float, float, float]]] = {serve_image: [], training_image: []}
    for image in (serve_image, training_image):
        cold_start(image, model)  # each image's files in the page cache, as on a warm host
    for _ in range(RUNS):
        for image in (serve_image, training_image):
            samples[image].append(cold_start(image, model))
    sizes = {image: size_mb(image) for image in samples}
    ratio = sizes[serve_image] / sizes[training_image]
    print(f"\nserve-only image benchmark: {os.cpu_count()} CPUs, {RUNS} starts of each image")
    report(
        Figure(
            "serve-only image size",
            "MB",
            [sizes[serve_image]],
            TARGET_SIZE_RATIO * sizes[training_image],
            note=f"{serve_image}: {ratio:.1%} of {training_image} ({sizes[training_image]:.0f} "
            "MB); both on this machine's base image",
        )
    )
    for image, label, target in (
        (serve_image, "serve-only image", TARGET_COLD_START_S),
        (training_image, "training image", None),
    ):
        pings, answers, memory = (list(column) for column in zip(*samples[image], strict=True))
        report(Figure(f"cold start to /ping 200, {label}", "s", pings, target))
        report(
            Figure(
                f"cold start to the first answer, {label}",
                "s",
                answers,
                target,
                note=f"{image}: docker run {' '.join(SERVERLESS)}, model mounted read-only, "
                "its default workers",
            )
        )
        report(Figure(f"resident memory serving, {label}", "MB", memory))
    return 0


if __name__ == "__main__":
    sys.exit(main())
