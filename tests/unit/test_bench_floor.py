"""bench/measure.py's floor figure, shared by the CartPole and SAC benches: ours / Ray's floor
per pair, the ratio of the medians, and a floor run that did not solve invalidating it."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2] / "bench"))
import measure


def floor_run(seconds: float, reached: bool = True) -> dict:
    return {
        "seconds": seconds,
        "timesteps": 100,
        "rate": 50.0,
        "evaluations": 3,
        "reached": reached,
    }


def test_the_floor_figure_pairs_runs_and_reports_the_ratio_of_medians():
    figure = measure.floor_solve_figure(
        "t",
        [5.0, 30.0, 12.0],
        [floor_run(10), floor_run(20), floor_run(15)],
        1.25,
        {"sections": {}},
    )
    assert figure.samples == [0.5, 1.5, 0.8]
    assert figure.value == 12.0 / 15.0
    assert figure.met is True and not figure.invalid
    assert "3 stop evaluations" in figure.note and "50/s of training" in figure.note


def test_a_floor_run_that_did_not_solve_invalidates_the_figure():
    figure = measure.floor_solve_figure(
        "t", [5.0, 6.0], [floor_run(10), floor_run(20, reached=False)], 1.25, {"sections": {}}
    )
    assert figure.invalid == "1 floor run(s) did not solve"
    assert figure.met is False
