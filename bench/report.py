#!/usr/bin/env python3
"""Turn build/bench/figures.jsonl (what `make bench` measured) into bench/RESULTS.md, the table
the README quotes, and bench/results.png: each figure against its target."""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import sys
from pathlib import Path

from figures import FIGURES, ROOT

TABLE = ROOT / "bench" / "RESULTS.md"
CHART = ROOT / "bench" / "results.png"


def load() -> list[dict]:
    figures = {}
    for line in FIGURES.read_text().splitlines():
        figure = json.loads(line)
        figures[figure["name"]] = figure  # a rerun of one bench replaces its figures
    return list(figures.values())


HEADER = "| figure | value | spread (min to max) | runs | target | verdict | measured |"


def table(figures: list[dict]) -> str:
    lines = [HEADER, "|---|---|---|---|---|---|---|"]
    for f in figures:
        low, high = f["spread"]
        verdict = {None: "-", True: "met", False: "**MISSED**"}[f["met"]]
        measured = f.get("date") or datetime.date.today().isoformat()
        lines.append(
            f"| {f['name']} ({f['unit']}) | {f['value']:.3g} | {low:.3g} to {high:.3g} | "
            f"{len(f['samples'])} | {f['target_text']} | {verdict} | {measured} |"
        )
    notes = [f"- {f['name']}: {f['note']}" for f in figures if f["note"]]
    return "\n".join(lines + (["", *notes] if notes else []))


def chart(figures: list[dict]) -> None:
    """One strip per figure, in its own unit: every run as a dot, the reported value as a bar,
    the target as a dashed line with the side that meets it shaded. (A single bar per figure
    scaled by its target cannot show a difference that is zero or negative, nor the spread.)"""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    colour = {True: "tab:green", False: "tab:red", None: "tab:blue"}
    height = 0.85 * len(figures) + 0.9
    figure, strips = pyplot.subplots(len(figures), 1, figsize=(9, height), dpi=100, squeeze=False)
    for axes, f in zip(strips[:, 0], figures, strict=True):
        samples, value, target = f["samples"], f["value"], f["target"]
        low, high = f["spread"]
        shown = [*samples, value, low, high] + ([target] if target is not None else [])
        left, right = min(shown), max(shown)
        pad = (right - left) * 0.08 or abs(right) * 0.1 or 1.0
        left, right = left - pad, right + pad
        if target is not None:
            met_side = (target, right) if f["higher_is_better"] else (left, target)
            axes.axvspan(*met_side, color="tab:green", alpha=0.08)
            axes.axvline(target, color="black", linestyle="--", linewidth=1)
        axes.hlines(0, low, high, color="grey", linewidth=1)
        axes.plot(samples, [0] * len(samples), "o", color="grey", markersize=4, alpha=0.7)
        axes.plot([value], [0], "|", color=colour[f["met"]], markersize=18, markeredgewidth=3)
        carried = f.get("carried")
        axes.set_xlim(left, right)
        axes.set_ylim(-1, 1)
        axes.set_yticks([])
        axes.tick_params(axis="x", labelsize=8)
        verdict = {True: "met", False: "MISSED"}.get(f["met"])
        judged = f"target {f['target_text']}, {verdict}" if verdict else "no target"
        runs = f"n={f.get('runs', len(samples))}" + (f", measured {f['date']}" if carried else "")
        axes.set_title(
            f"{'*' if carried else ''}{f['name']}: {value:.3g} {f['unit']} ({judged}; {runs})",
            fontsize=9,
            loc="left",
            color="black" if f["met"] is not False else "tab:red",
        )
        for side in ("left", "right", "top"):
            axes.spines[side].set_visible(False)
    figure.suptitle(
        "make bench: each figure in its own unit; dots: runs, bar: reported value, grey line: "
        "spread,\ndashed: target (shaded side meets it); *: carried over from an earlier run "
        "(no dots)",
        fontsize=9,
        y=1 - 0.05 / height,
        verticalalignment="top",
    )
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.2 / height))  # the two-line title above
    figure.savefig(CHART)
    pyplot.close(figure)


CARRIED_ROW = re.compile(
    r"^\| \*(?P<name>.+) \((?P<unit>[^()]*)\) \| (?P<value>\S+) \| (?P<low>\S+) to "
    r"(?P<high>\S+) \| (?P<runs>\d+) \| (?P<target>[^|]+) \| (?P<verdict>[^|]+) \| "
    r"(?P<date>[^|]+) \|$"
)


def carried_figure(row: str) -> dict | None:
    """A carried-over table row as the chart draws a figure: its value, spread and target as
    the table printed them (3 significant digits), no runs to dot, and the day it was
    measured. None for a row it cannot read."""
    match = CARRIED_ROW.match(row)
    if match is None:
        return None
    target_text = match["target"].strip()
    target = None
    if target_text[:2] in (">=", "<="):
        target = float(target_text[2:])
    verdict = match["verdict"].strip().strip("*")
    return {
        "name": match["name"],
        "unit": match["unit"],
        "value": float(match["value"]),
        "spread": [float(match["low"]), float(match["high"])],
        "samples": [],
        "runs": int(match["runs"]),
        "target": target,
        "target_text": target_text,
        "higher_is_better": target_text.startswith(">="),
        "met": {"met": True, "MISSED": False}.get(verdict),
        "date": match["date"].strip(),
    }


def carried_over(figures: list[dict]) -> tuple[list[str], list[str]]:
    """The previous RESULTS.md's table rows and notes for figures this run did not measure (a
    partial run, e.g. one bench script, keeps the others' last results, marked *). Each row
    keeps the date it was measured on: a row from before the measured column gets the date the
    previous file was written."""
    if not TABLE.exists():
        return [], []
    text = TABLE.read_text()
    written = re.search(r"on (\d{4}-\d{2}-\d{2})", text)
    measured = {f["name"] for f in figures}
    rows, names = [], []
    for line in text.splitlines():
        row = re.match(r"\| \*?(.+?) \([^()]*\) \|", line)
        if row and not line.startswith("| figure |") and row[1] not in measured:
            names.append(row[1])
            line = re.sub(r"^\| \*?", "| *", line)  # marked once, whatever else is bold
            if line.count("|") == 7:  # no measured column yet
                line += f" {written[1] if written else '?'} |"
            rows.append(line)
    notes = [
        f"- *{line[2:].lstrip('*')}"
        for line in text.splitlines()
        if any(line.lstrip("- *").startswith(f"{name}: ") for name in names)
    ]
    return rows, notes


def main() -> int:
    figures = load()
    old_rows, old_notes = carried_over(figures)
    header = (
        f"# Benchmark results\n\nWritten by `make bench` (bench/report.py) on "
        f"{datetime.date.today()}: {platform.machine()}, {os.cpu_count()} CPUs, no GPU. Each "
        f"figure is the median of its runs; ratios compare two things measured in the same "
        f"run. Chart: bench/results.png.\n\n"
    )
    if os.environ.get("BENCH_CONDITIONS"):  # e.g. "another job loaded the machine throughout"
        header += f"Conditions: {os.environ['BENCH_CONDITIONS']}\n\n"
    if old_rows:
        header += (
            "Figures marked * were not measured by this run: they are carried over from the "
            "previous bench/RESULTS.md with the date each was measured (the chart draws them "
            "from this table, without their runs).\n\n"
        )
    lines = table(figures).split("\n")
    rows = len(figures) + 2
    body = "\n".join(lines[:rows] + old_rows + lines[rows:])
    if old_notes:
        body += ("\n" if len(lines) > rows else "\n\n") + "\n".join(old_notes)
    TABLE.write_text(header + body + "\n")
    carried = [f for f in map(carried_figure, old_rows) if f is not None]
    chart(figures + [f | {"carried": True} for f in carried])
    print(f"\nwrote {_shown(TABLE)} and {_shown(CHART)}")
    print(table(figures))
    missed = [f["name"] for f in figures if f["met"] is False]
    if missed:
        print(f"\nMISSED: {', '.join(missed)}")
    return 0


def _shown(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


if __name__ == "__main__":
    sys.exit(main())
