#!/usr/bin/env python3
"""Image figures: size against the floor (base image + the installed virtualenv) for each built
image, and the rebuild time after an entrypoint-only change.

    bench/image_bench.py IMAGE_NAME [IMAGE_NAME ...]     (names from images/matrix.toml)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from figures import Figure, report
from measure import DOCKER

ROOT = Path(__file__).resolve().parents[1]
SIZE_TARGET = 1.15
REBUILD_TARGET_S = 20.0


def run(*args: str) -> str:
    return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()


def matrix(name: str, field: str) -> str:
    return run(sys.executable, str(ROOT / "tools" / "matrix.py"), "get", name, field)


def base_of(ref: str, name: str) -> str:
    """The base the image was built on (make build may have used the local stand-in)."""
    history = run(DOCKER, "image", "inspect", "-f", "{{json .RootFS.Layers}}", ref)
    layers = json.loads(history)
    for candidate in (matrix(name, "base_image"), matrix(name, "stand_in_base")):
        try:
            base_layers = json.loads(
                run(DOCKER, "image", "inspect", "-f", "{{json .RootFS.Layers}}", candidate)
            )
        except subprocess.CalledProcessError:
            continue
        if layers[: len(base_layers)] == base_layers:
            return candidate
    raise SystemExit(f"cannot tell which base {ref} was built on")


def size(ref: str) -> int:
    return int(run(DOCKER, "image", "inspect", "-f", "{{.Size}}", ref))


def main() -> int:
    names = sys.argv[1:] or ["ray-pytorch-cpu"]
    print("\nimage size vs floor (base image + /opt/venv)")
    for name in names:
        ref = "sagemaker-rl:" + matrix(name, "tag")
        base = base_of(ref, name)
        venv = int(
            run(DOCKER, "run", "--rm", "--entrypoint", "du", ref, "-sb", "/opt/venv").split()[0]
        )
        floor = size(base) + venv
        report(
            Figure(
                f"image size / floor, {name}",
                "ratio",
                [size(ref) / floor],
                SIZE_TARGET,
                note=f"{name}: {size(ref) / 1e9:.2f} GB, floor {floor / 1e9:.2f} GB",
            )
        )

    name = names[0]
    stamp = ROOT / "entrypoint" / "bench-rebuild-stamp.txt"
    times = []
    try:
        for attempt in range(3):
            stamp.write_text(f"rebuild {time.time()} {attempt}\n")
            started = time.monotonic()
            subprocess.run(
                ["make", "-C", str(ROOT), "build", f"IMAGE={name}"], capture_output=True, check=True
            )
            times.append(time.monotonic() - started)
    finally:
        stamp.unlink(missing_ok=True)
    print(f"\nrebuild after an entrypoint-only change ({name})")
    report(Figure("rebuild after an entrypoint change", "s", times, REBUILD_TARGET_S))
    return 0


if __name__ == "__main__":
    sys.exit(main())
