#!/usr/bin/env python3
"""Run examples at full length, one after another, and write examples/RESULTS.md from what
each one showed (its figures and checks, from build/examples/<name>/result.json).

    python3 examples/run_all.py [--image REF] [NAME ...]
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="sagemaker-rl:ray-torch-cpu")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    names = args.names or sorted(path.parent.name for path in HERE.glob("*/run.py"))
    rows = []
    for name in names:
        started = time.monotonic()
        returncode = subprocess.run(
            [sys.executable, str(HERE / name / "run.py"), "--image", args.image]
        ).returncode
        minutes = (time.monotonic() - started) / 60
        result_file = WORK / name / "result.json"
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
        rows.append((name, returncode, minutes, result))

    lines = [
        "# Example results",
        "",
        f"Written by `make examples` ({platform.machine()}, {_cpus()} CPUs, image "
        f"`{args.image}`; last run {datetime.date.today()}): each example at full length, "
        f"locally. Figures and checks come from each run's result.json.",
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
