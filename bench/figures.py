"""One way for every benchmark to report a figure: printed with its repeats, spread and target
(a missed target prints MISSED), and appended to build/bench/figures.jsonl, from which
bench/report.py writes the table (bench/RESULTS.md) and the chart (bench/results.png)."""

from __future__ import annotations

import datetime
import json
import os
import statistics
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = Path(os.environ.get("BENCH_FIGURES", ROOT / "build" / "bench" / "figures.jsonl"))


@dataclass(frozen=True)
class Figure:
    name: str
    unit: str
    samples: list[float]
    target: float | None = None
    higher_is_better: bool = False
    note: str = ""
    # "median" of the samples, or "value" when the figure is one number derived from others
    # (a ratio of two medians); spread then comes from `low`/`high`.
    low: float | None = None
    high: float | None = None
    value_override: float | None = None
    # Set when the runs behind the figure did not do what it measures (e.g. a "solved" run
    # whose policy does not solve): the target then counts as missed, whatever the number.
    invalid: str = ""

    @property
    def value(self) -> float:
        if self.value_override is not None:
            return self.value_override
        return statistics.median(self.samples)

    @property
    def spread(self) -> tuple[float, float]:
        if self.low is not None and self.high is not None:
            return self.low, self.high
        return min(self.samples), max(self.samples)

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        if self.invalid:
            return False
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def target_text(self) -> str:
        if self.target is None:
            return "-"
        return f"{'>=' if self.higher_is_better else '<='} {self.target:g}"

    @property
    def verdict(self) -> str:
        return {None: "", True: "met", False: "MISSED"}[self.met]


def report(figure: Figure) -> Figure:
    low, high = figure.spread
    print(
        f"  {figure.name + ' (' + figure.unit + ')':<46} {figure.value:10.3f} "
        f"[{low:.3f}-{high:.3f}] n={len(figure.samples)}  target {figure.target_text:<8} "
        f"{figure.verdict}",
        flush=True,
    )
    if figure.note:
        print(f"      {figure.note}", flush=True)
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as file:
        file.write(
            json.dumps(
                {
                    **asdict(figure),
                    "value": figure.value,
                    "spread": figure.spread,
                    "met": figure.met,
                    "target_text": figure.target_text,
                    "date": datetime.date.today().isoformat(),
                }
            )
            + "\n"
        )
    return figure
