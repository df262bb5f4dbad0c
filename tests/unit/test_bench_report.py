"""bench/report.py: a partial `make bench` run keeps the other figures, each with its own date."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))
import report

PREVIOUS = """# Benchmark results

Written by `make bench` (bench/report.py) on 2026-11-30: x86_64, 2 CPUs, no GPU.

| figure | value | spread (min to max) | runs | target | verdict | measured |
|---|---|---|---|---|---|---|
| sweep speed-up (x) | 2.2 | 2 to 2.7 | 3 | >= 1 | met | 2026-11-30 |
| *image size (MB) | 292 | 292 to 292 | 1 | <= 300 | met | 2026-11-02 |
| *old row from before the column (s) | 0.5 | 0.4 to 0.6 | 5 | - | - |

- sweep speed-up: four learning rates
- *image size: the serve-only image
"""


def figure(name: str, unit: str, date: str) -> dict:
    return {
        "name": name,
        "unit": unit,
        "value": 3.0,
        "spread": [2.5, 3.5],
        "samples": [2.5, 3.0, 3.5],
        "target_text": ">= 1",
        "met": True,
        "note": "",
        "date": date,
    }


@pytest.fixture
def previous(tmp_path, monkeypatch) -> Path:
    table = tmp_path / "RESULTS.md"
    table.write_text(PREVIOUS)
    monkeypatch.setattr(report, "TABLE", table)
    return table


def test_carried_rows_keep_their_own_measured_date(previous):
    rows, notes = report.carried_over([figure("sweep speed-up", "x", "2026-12-05")])
    assert rows == [
        "| *image size (MB) | 292 | 292 to 292 | 1 | <= 300 | met | 2026-11-02 |",
        # a row from before the column: the date the previous file was written
        "| *old row from before the column (s) | 0.5 | 0.4 to 0.6 | 5 | - | - | 2026-11-30 |",
    ]
    assert notes == ["- *image size: the serve-only image"]


def test_a_new_figure_row_says_when_it_was_measured():
    (row,) = report.table([figure("sweep speed-up", "x", "2026-12-05")]).splitlines()[2:]
    assert row == "| sweep speed-up (x) | 3 | 2.5 to 3.5 | 3 | >= 1 | met | 2026-12-05 |"
    assert row.count("|") == report.HEADER.count("|")


def test_carried_rows_are_read_back_for_the_chart():
    missed = report.carried_figure(
        "| *SAC time to solve, SB3 / ours (x) | 0.282 | 0.174 to 0.332 | 3 | >= 1 | **MISSED** "
        "| 2026-12-05 |"
    )
    assert missed == {
        "name": "SAC time to solve, SB3 / ours",
        "unit": "x",
        "value": 0.282,
        "spread": [0.174, 0.332],
        "samples": [],
        "runs": 3,
        "target": 1.0,
        "target_text": ">= 1",
        "higher_is_better": True,
        "met": False,
        "date": "2026-12-05",
    }
    met = report.carried_figure(
        "| *image size (MB) | 292 | 292 to 292 | 1 | <= 300 | met | 2026-11-02 |"
    )
    assert (met["target"], met["higher_is_better"], met["met"]) == (300.0, False, True)
    untargeted = report.carried_figure(
        "| *soak p50 latency, per minute (ms) | 12.4 | 11.1 to 23.3 | 10 | - | - | 2026-12-05 |"
    )
    assert (untargeted["target"], untargeted["met"], untargeted["value"]) == (None, None, 12.4)
    assert report.carried_figure("| *a row of another shape | 1 |") is None


def test_a_partial_run_charts_its_figures_and_the_carried_ones(previous, tmp_path, monkeypatch):
    figures = tmp_path / "figures.jsonl"
    measured = figure("sweep speed-up", "x", "2026-12-05") | {
        "target": 1.0,
        "higher_is_better": True,
    }
    figures.write_text(json.dumps(measured) + "\n")
    monkeypatch.setattr(report, "FIGURES", figures)
    monkeypatch.setattr(report, "CHART", tmp_path / "results.png")
    drawn = []
    monkeypatch.setattr(report, "chart", drawn.extend)
    report.main()
    assert [(f["name"], bool(f.get("carried"))) for f in drawn] == [
        ("sweep speed-up", False),
        ("image size", True),
        ("old row from before the column", True),
    ]
    monkeypatch.undo()
    monkeypatch.setattr(report, "CHART", tmp_path / "results.png")
    report.chart(drawn)
    assert (tmp_path / "results.png").stat().st_size > 10_000
