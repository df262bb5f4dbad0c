#!/usr/bin/env python3
"""Run examples at full length, one after another, and write examples/RESULTS.md from what
each one showed (its figures and checks, from build/examples/<name>/result.json).

    python3 examples/run_all.py [--image REF] [--coach-image REF] [NAME ...]

The RL Coach examples (coach-*, distributed-coach) run in the Coach TensorFlow image:
`--coach-image`, else `make build IMAGE=coach-tensorflow-cpu` builds it first (quick when it is
up to date).
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE.parent / "build" / "examples"
sys.path.insert(0, str(HERE))
from local import COACH_IMAGE  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="sagemaker-rl:ray-torch-cpu")
    parser.add_argument("--coach-image", help=f"for the coach-* examples (default {COACH_IMAGE})")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    names = args.names or sorted(path.parent.name for path in HERE.glob("*/run.py"))
    if any(_is_coach(name) for name in names) and not args.coach_image:
        subprocess.run(
            ["make", "-C", str(HERE.parent), "build", "IMAGE=coach-tensorflow-cpu"], check=True
        )
    coach_image = args.coach_image or COACH_IMAGE
    rows = []
    for name in names:
        started = time.monotonic()
        image = coach_image if _is_coach(name) else args.image
        returncode = subprocess.run(
            [sys.executable, str(HERE / name / "run.py"), "--image", image]
        ).returncode
        minutes = (time.monotonic() - started) / 60
        result_file = WORK / name / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
        rows.append((name, returncode, minutes, result))

    lines = [
        "# Example results",
        "",
        f"Written by `make examples` ({platform.machine()}, {_cpus()} CPUs, image "
        f"`{args.image}`, `{coach_image}` for the Coach ones; last run "
        f"{datetime.date.today()}): each example at full length, locally. Figures and checks "
        f"come from each run's result.json; an example not run that time keeps the row of its "
        f"own last run.",
        "",
        "| example | outcome | minutes | figures | checks |",
        "|---|---|---|---|---|",
    ]
    table = _existing_rows()  # examples not run this time keep their last result
    for name, returncode, minutes, result in rows:
        figures = ", ".join(f"{k} {v}" for k, v in result.get("figures", {}).items())
        checks = ", ".join(
            f"{k}: {'ok' if ok else 'FAILED'}" for k, ok in result.get("checks", {}).items()
        )
        outcome = "passed" if returncode == 0 else f"FAILED (exit {returncode})"
        table[name] = f"| {name} | {outcome} | {minutes:.1f} | {figures} | {checks} |"
    lines += [table[name] for name in sorted(table)]
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if all(returncode == 0 for _, returncode, _, _ in rows) else 1


def _is_coach(name: str) -> bool:
    return "coach" in name.split("-")


def _existing_rows() -> dict[str, str]:
    results = HERE / "RESULTS.md"
    if not results.exists():
        return {}
    rows = {}
    for line in results.read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 2 and (HERE / cells[1] / "run.py").exists():
            rows[cells[1]] = line
    return rows


def _cpus() -> int:
    import os

    return os.cpu_count() or 0


if __name__ == "__main__":
    sys.exit(main())
