"""What a person looks at after a job: TensorBoard scalars while it runs, a PNG at the end.

- `/opt/ml/output/tensorboard/`: TensorBoard event files, one scalar per metric, stepped by env
  steps. That is the local path SageMaker's `TensorBoardOutputConfig` uploads by default.
- `/opt/ml/output/data/training_curve.png` (+ `.csv`): mean episode return (with the min..max
  band) against env steps, and a multi-agent job's mean return of each policy; `output/data` is
  what SageMaker packs into `output.tar.gz`.

The history also lives beside the checkpoints, so a job restarted from a checkpoint (managed spot)
plots its whole run, not just the part since the restart.
"""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING

from sagemaker_rl_container import background_imports
from sagemaker_rl_container.metrics import IterationMetrics, policy_metric

if TYPE_CHECKING:
    from sagemaker_rl_container.contract import TrainingContract

logger = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
PNG_NAME = "training_curve.png"
CSV_NAME = "training_curve.csv"
# The curve so far, kept beside the checkpoints so that a resumed job continues it.
HISTORY_NAME = "training_curve.csv"
COLUMNS = (
    "iteration",
    "timesteps_total",
    "episode_return_mean",
    "episode_return_min",
    "episode_return_max",
    "time_total_s",
)


class TrainingCurve:
    def __init__(self, output_dir: Path, output_data_dir: Path, history: Path, title: str) -> None:
        self.tensorboard_dir = output_dir / TENSORBOARD_DIR
        self.png = output_data_dir / PNG_NAME
        self.csv = output_data_dir / CSV_NAME
        self.history = history
        self.title = title
        self.rows: list[dict[str, float]] = []
        self._writer = None
        # tensorboardX is slow to import: jobs create their curve before the trainer starts
        # (Ray, Coach), so the import runs meanwhile, not in the first iteration.
        background_imports.start("tensorboardX")

    @classmethod
    def for_job(cls, contract: TrainingContract, title: str) -> TrainingCurve:
        """A job's curve: its views under /opt/ml/output, its history beside the checkpoints."""
        return cls(
            contract.output_dir,
            contract.output_data_dir,
            contract.checkpoint_dir / HISTORY_NAME,
            title,
        )

    def resume(self, iteration: int) -> None:
        """Continue the curve of the run whose checkpoint was restored (at `iteration`)."""
        if not self.history.exists():
            return
        try:
            with self.history.open(newline="") as file:
                rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(file)]
        except (OSError, ValueError, csv.Error) as error:
            logger.warning(
                "Training curve history %s unreadable (%s): starting a new curve",
                self.history,
                error,
            )
            return
        self.rows = [row for row in rows if row["iteration"] <= iteration]

    def record(self, metrics: IterationMetrics) -> None:
        row = {name: float(getattr(metrics, name)) for name in COLUMNS}
        for policy, figures in metrics.policies.items():
            row[policy_metric(policy, "episode_return_mean")] = float(
                figures["episode_return_mean"]
            )
        self.rows.append(row)
        self._write_csv(self.history)
        writer = self._tensorboard()
        if writer is not None:
            step = metrics.timesteps_total
            for name, value in metrics.values.items():
                if name != "episode_reward_mean" and not math.isnan(float(value)):
                    writer.add_scalar(f"rl/{name}", value, global_step=step)
            writer.flush()

    def close(self) -> None:
        """Write the PNG and CSV; never fails the job (they are a view, not a result)."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if not self.rows:
            return
        try:
            self._write_csv(self.csv)
            self._plot()
            logger.info("Training curve: %s", self.png)
        except Exception as error:  # a plotting problem must not turn a trained job into a failure
            logger.warning("Could not draw the training curve: %s", error)

    def _tensorboard(self):
        if self._writer is None:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                logger.warning("tensorboardX is not installed: no TensorBoard logs")
                self._writer = False
                return None
            self.tensorboard_dir.mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(logdir=str(self.tensorboard_dir), flush_secs=10)
        return self._writer or None

    def _write_csv(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Staged beside the directory, not in it: SageMaker uploads /opt/ml/checkpoints (where
        # the history lives) file by file as files appear.
        staging = path.parent.parent / f".{path.parent.name}-{path.name}.partial"
        try:
            self._write_rows(staging)
            staging.replace(path)
        except OSError:  # not writable there, or another filesystem
            staging.unlink(missing_ok=True)
            staging = path.with_name(f".{path.name}.partial")
            self._write_rows(staging)
            staging.replace(path)

    def _write_rows(self, path: Path) -> None:
        names = [*COLUMNS, *_policy_columns(self.rows)]
        with path.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=names, restval="nan")
            writer.writeheader()
            writer.writerows(self.rows)

    def _plot(self) -> None:
        import matplotlib

        matplotlib.use("Agg")  # no display in a container
        from matplotlib import pyplot

        rows = [row for row in self.rows if not math.isnan(row["episode_return_mean"])]
        figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
        if rows:
            steps = [row["timesteps_total"] for row in rows]
            axes.fill_between(
                steps,
                [row["episode_return_min"] for row in rows],
                [row["episode_return_max"] for row in rows],
                alpha=0.2,
                label="min..max",
            )
            axes.plot(steps, [row["episode_return_mean"] for row in rows], label="mean return")
            for name in _policy_columns(rows):
                policy = name.removeprefix("policy_").removesuffix("_episode_return_mean")
                values = [row.get(name, math.nan) for row in rows]
                axes.plot(steps, values, label=f"policy {policy}", linewidth=1)
            axes.legend(loc="lower right")
        else:
            axes.text(0.5, 0.5, "no episode finished", ha="center", transform=axes.transAxes)
        axes.set_xlabel("env steps")
        axes.set_ylabel("episode return")
        axes.set_title(self.title)
        axes.grid(alpha=0.3)
        figure.tight_layout()
        self.png.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(self.png)
        pyplot.close(figure)


def _policy_columns(rows: list[dict[str, float]]) -> list[str]:
    """A multi-agent job's columns beside COLUMNS (each policy's return), in the order they
    first appear."""
    names: list[str] = []
    for row in rows:
        names.extend(name for name in row if name not in COLUMNS and name not in names)
    return names
