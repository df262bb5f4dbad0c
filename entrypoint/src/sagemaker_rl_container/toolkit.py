"""What a toolkit's adapter supplies to the job lifecycle (lifecycle.py): a `Trainer`, which
starts, restores, runs its loop (calling `IterationDone` after each iteration), saves, exports
and closes; the `Job` around it does everything else, once for every toolkit."""

from __future__ import annotations

import hashlib
import json
import shutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.metrics import IterationMetrics

# Where model/ (model.tar.gz) keeps the final checkpoint, written before anything exports.
MODEL_CHECKPOINT = "checkpoint"

# Called by a trainer after each iteration; returns why training should stop, or None.
IterationDone = Callable[[IterationMetrics], Optional[str]]


class Trainer(ABC):
    """What one toolkit does for a job; the `Job` around it does the rest."""

    #: Shown in logs and as the training curve's title, e.g. "PPO on CartPole-v1".
    title: str = ""
    #: Saved in every checkpoint's manifest; a checkpoint resumes only if these match.
    identity: dict[str, str] = {}
    #: A digest of the settings that change what is trained (not when it stops): a checkpoint
    #: trained with other settings is not resumed.
    settings_digest: str | None = None

    def start(self) -> None:  # noqa: B027 (a hook: does nothing unless overridden)
        """Start the toolkit and build what trains (processes, graph, algorithm)."""

    @abstractmethod
    def restore(self, checkpoint: Checkpoint) -> int:
        """Load `checkpoint`'s state; return the iteration it was saved at. A `UserError`
        fails the job; any other exception marks this checkpoint unusable (the next is tried)."""

    def start_fresh(self) -> None:  # noqa: B027 (a hook: does nothing unless overridden)
        """Called instead of `restore` when no checkpoint is there to resume."""

    def keep_checkpoint(self, checkpoint: Checkpoint, model_dir: Path) -> Path:
        """Copy the final `checkpoint` into `model_dir` before export starts, as
        `exported_checkpoint` reads it back; return where it went."""
        target = model_dir / MODEL_CHECKPOINT
        replace_with_copy(checkpoint.path, target)
        return target

    def exported_checkpoint(self, model_dir: Path) -> Checkpoint | None:
        """`model_dir` (a model.tar.gz's contents) as a checkpoint `restore` takes, if it
        keeps one; its manifest carries the identity of the job that trained it."""
        return CheckpointStore.read(model_dir / MODEL_CHECKPOINT)

    @abstractmethod
    def progress(self) -> tuple[int, int]:
        """(iterations, env steps) trained since the job first started, restarts included."""

    @abstractmethod
    def train(self, iteration_done: IterationDone) -> str:
        """Train, calling `iteration_done` after every iteration, until it returns a reason to
        stop or the toolkit's own loop ends; return the reason training stopped."""

    @abstractmethod
    def save(self, directory: Path) -> dict[str, Any]:
        """Write the toolkit's state into `directory`; return what the manifest should add."""

    @abstractmethod
    def export(self, model_dir: Path, training: dict[str, Any]) -> list[str]:
        """Write the servable model into `model_dir`; `training` summarizes the run for its
        metadata. Return the names written."""

    def check_health(self) -> None:  # noqa: B027 (a hook: does nothing unless overridden)
        """Raise a `UserError` when training cannot go on (a lost host); checked each
        iteration, after which the job checkpoints and fails."""

    def close(self, error: BaseException | None) -> None:  # noqa: B027 (a hook: does nothing unless overridden)
        """Release the toolkit's resources; `error` is what ends the job, if anything."""


def settings_digest(settings: dict[str, Any]) -> str:
    """A short, stable digest of JSON-able settings."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def replace_with_copy(source: Path, target: Path) -> None:
    """`target` becomes a copy of the directory `source`."""
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    shutil.copytree(source, target)
