"""The training curve a job leaves in output/: TensorBoard events, PNG and CSV, across restarts."""

from __future__ import annotations

import csv
import math
import struct
from pathlib import Path

from tensorboardX.proto import event_pb2

from sagemaker_rl_container.metrics import IterationMetrics
from sagemaker_rl_container.training_curve import TrainingCurve


def metrics(iteration: int, mean: float = math.nan) -> IterationMetrics:
    return IterationMetrics(
        iteration=iteration,
        timesteps_total=1000 * iteration,
        episodes_total=10 * iteration,
        episode_return_mean=mean,
        episode_return_min=mean - 5,
        episode_return_max=mean + 5,
        episode_len_mean=mean,
        time_this_iter_s=1.0,
        time_total_s=float(iteration),
        losses={"total_loss": 0.5},
    )


def curve(root: Path) -> TrainingCurve:
    return TrainingCurve(
        root / "output", root / "output" / "data", root / "checkpoints" / "curve.csv", "PPO"
    )


def scalars(tensorboard_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """Read the event files (TFRecord framing: length, crc, payload, crc)."""
    found: dict[str, list[tuple[int, float]]] = {}
    for path in tensorboard_dir.rglob("events.out.tfevents.*"):
        data = path.read_bytes()
        offset = 0
        while offset < len(data):
            (length,) = struct.unpack("<Q", data[offset : offset + 8])
            event = event_pb2.Event.FromString(data[offset + 12 : offset + 12 + length])
            offset += 12 + length + 4
            for value in event.summary.value:
                found.setdefault(value.tag, []).append((event.step, value.simple_value))
    return found


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as file:
        return list(csv.DictReader(file))


def test_a_job_leaves_tensorboard_scalars_a_png_and_a_csv(tmp_path):
    training = curve(tmp_path)
    training.record(metrics(1))  # no episode finished yet: no return scalar, no point
    training.record(metrics(2, 20.0))
    training.record(metrics(3, 45.0))
    training.close()

    events = scalars(tmp_path / "output" / "tensorboard")
    assert events["rl/episode_return_mean"] == [(2000, 20.0), (3000, 45.0)]
    assert [step for step, _ in events["rl/total_loss"]] == [1000, 2000, 3000]
    png = tmp_path / "output" / "data" / "training_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = read_csv(tmp_path / "output" / "data" / "training_curve.csv")
    assert [row["timesteps_total"] for row in rows] == ["1000.0", "2000.0", "3000.0"]


def test_a_resumed_job_continues_the_curve_of_its_checkpoint(tmp_path):
    first = curve(tmp_path)
    for iteration in (1, 2, 3):
        first.record(metrics(iteration, 10.0 * iteration))
    # Killed after iteration 3, but the checkpoint it resumes from is iteration 2.
    second = curve(tmp_path)
    second.resume(2)
    second.record(metrics(3, 33.0))
    second.close()
    rows = read_csv(tmp_path / "output" / "data" / "training_curve.csv")
    assert [(row["iteration"], row["episode_return_mean"]) for row in rows] == [
        ("1.0", "10.0"),
        ("2.0", "20.0"),
        ("3.0", "33.0"),
    ]


def test_a_fresh_start_drops_an_older_runs_history(tmp_path):
    old = curve(tmp_path)
    old.record(metrics(1, 10.0))
    new = curve(tmp_path)
    new.resume(0)
    new.record(metrics(1, 99.0))
    new.close()
    rows = read_csv(tmp_path / "output" / "data" / "training_curve.csv")
    assert [row["episode_return_mean"] for row in rows] == ["99.0"]


def test_a_job_that_never_finished_an_iteration_writes_no_png(tmp_path):
    training = curve(tmp_path)
    training.close()
    assert not (tmp_path / "output" / "data" / "training_curve.png").exists()
