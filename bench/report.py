#!/usr/bin/env python3
"""Turn build/bench/figures.jsonl (what `make bench` measured) into bench/RESULTS.md, the table
the README quotes, and bench/results.png: each figure against its target."""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys

from figures import FIGURES, ROOT

TABLE = ROOT / "bench" / "RESULTS.md"
CHART = ROOT / "bench" / "results.png"


def load() -> list[dict]:
    figures = {}
    for line in FIGURES.read_text().splitlines():
        figure = json.loads(line)
        figures[figure["name"]] = figure  # a rerun of one bench replaces its figures
    return list(figures.values())


def table(figures: list[dict]) -> str:
    lines = [
        "| figure | value | spread (min-max) | runs | target | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        low, high = f["spread"]
        verdict = {None: "-", True: "met", False: "**MISSED**"}[f["met"]]
        lines.append(
            f"| {f['name']} ({f['unit']}) | {f['value']:.3g} | {low:.3g}-{high:.3g} | "
            f"{len(f['samples'])} | {f['target_text']} | {verdict} |"
        )
    notes = [f"- {f['name']}: {f['note']}" for f in figures if f["note"]]
    return "\n".join(lines + (["", *notes] if notes else []))


def chart(figures: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    targeted = [f for f in figures if f["target"]]
    # Every figure as a share of its target, oriented so that >= 1 always means "met".
    scores = []
    for f in targeted:
        if f["higher_is_better"]:
            scores.append(f["value"] / f["target"])
        else:
            scores.append(f["target"] / f["value"] if f["value"] else float("inf"))
    figure, axes = pyplot.subplots(figsize=(9, 0.45 * len(targeted) + 1.5), dpi=100)
    colours = ["tab:green" if f["met"] else "tab:red" for f in targeted]
    names = [f"{f['name']} ({f['value']:.3g} {f['unit']}, {f['target_text']})" for f in targeted]
    axes.barh(names, scores, color=colours)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.invert_yaxis()
    axes.set_xlabel("margin over target (>= 1: met; log scale)")
    axes.set_title("make bench: each figure against its target")
    figure.tight_layout()
    figure.savefig(CHART)
    pyplot.close(figure)


def main() -> int:
    figures = load()
    header = (
        f"# Benchmark results\n\nWritten by `make bench` (bench/report.py) on "
        f"{datetime.date.today()}: {platform.machine()}, {os.cpu_count()} CPUs, no GPU. Each "
        f"figure is the median of its runs; ratios compare two things measured in the same "
        f"run. Chart: bench/results.png.\n\n"
    )
    TABLE.write_text(header + table(figures) + "\n")
    chart(figures)
    print(f"\nwrote {TABLE.relative_to(ROOT)} and {CHART.relative_to(ROOT)}")
    print(table(figures))
    missed = [f["name"] for f in figures if f["met"] is False]
    if missed:
        print(f"\nMISSED: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
