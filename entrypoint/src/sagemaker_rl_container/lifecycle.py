"""One training job, whatever the toolkit: prepare, restore, train, export, summarize.

    prepare    the toolkit builds its trainer from the contract and config (`Trainer.start`)
    restore    the newest checkpoint whose identity matches and whose state loads, else fresh
    train      after each iteration: the metric line, the progress line, the training curve,
               the stop conditions, the toolkit's health check, SIGTERM, periodic checkpoints
    export     the final checkpoint, kept in model/checkpoint first (a failed export loses
               nothing), then the servable model into model/
    summary    one "Done" line; `TrainingSummary` for the caller

A toolkit supplies a `Trainer` (ray_rllib/trainer.py, coach/trainer.py) that does only what
differs between toolkits; everything a job does around it lives here, once, for both.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container import signals
from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import ExportFailed, TrainingInterrupted, UserError, summarize
from sagemaker_rl_container.metrics import (
    IterationMetrics,
    as_float,
    metrics_line,
    print_line,
    ray1_metrics_line,
)
from sagemaker_rl_container.stopping import StopConditions
from sagemaker_rl_container.training_curve import TrainingCurve

# The input channel a job warm-starts from, as the old SageMaker RL launchers named it.
WARM_START_CHANNEL = "checkpoint"
# Where model/ (model.tar.gz) keeps the final checkpoint, written before anything exports.
MODEL_CHECKPOINT = "checkpoint"

logger = logging.getLogger(__name__)

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


@dataclass(frozen=True)
class JobSettings:
    """What the lifecycle needs from a toolkit's config."""

    checkpoint_frequency: int
    checkpoint_keep: int
    stop: StopConditions = field(default_factory=StopConditions)
    # Also checkpoint once this long has passed since the last one (None: never by time).
    checkpoint_seconds: float | None = None


@dataclass(frozen=True)
class TrainingSummary:
    iterations: int
    timesteps: int
    episode_return_mean: float
    evaluation_return_mean: float
    stop_reason: str
    resumed_from: str | None
    exported: list[str]


class Job:
    """Runs a `Trainer` through the job lifecycle."""

    def __init__(self, contract: TrainingContract, trainer: Trainer, settings: JobSettings) -> None:
        self.contract = contract
        self.trainer = trainer
        self.settings = settings
        self.stop = settings.stop
        self.store = CheckpointStore(contract.checkpoint_dir, keep=settings.checkpoint_keep)
        self.curve: TrainingCurve | None = None
        self.last: IterationMetrics | None = None
        self.last_saved: Checkpoint | None = None
        self.started = time.monotonic()
        self.last_checkpoint_at = self.started

    def run(self) -> TrainingSummary:
        self.store.remove_partials()
        error: BaseException | None = None
        try:
            # Created before the toolkit starts: its slow imports overlap the toolkit's start.
            self.curve = TrainingCurve.for_job(self.contract, self.trainer.title)
            self.trainer.start()
            _stop_if_asked("while starting, before it trained: there is nothing new to save")
            resumed = self._restore()
            _stop_if_asked("while resuming, before it trained: there is nothing new to save")
            reason = self._train()
            logger.info("Training stopped: %s", reason)
            summary = self._finish(reason, resumed)
        except BaseException as raised:
            error = raised
            raise
        finally:
            try:
                if self.curve is not None:
                    self.curve.close()
            finally:
                self.trainer.close(error)
        logger.info(
            "Done: %d iterations, %d env steps, mean return %.2f%s (%s); model/: %s",
            summary.iterations,
            summary.timesteps,
            summary.episode_return_mean,
            ""
            if math.isnan(summary.evaluation_return_mean)
            else f", evaluation return {summary.evaluation_return_mean:.2f}",
            summary.stop_reason,
            ", ".join(summary.exported) or "not exported",
        )
        return summary

    # -- restore

    def _restore(self) -> str | None:
        """Restore the newest checkpoint of this job that verifies and loads; None when
        starting fresh."""
        assert self.curve is not None
        identity = self.trainer.identity
        problems, foreign = [], []
        for checkpoint in self.store.valid():
            job = checkpoint.manifest.get("job")
            if job and self.contract.job_name and job != self.contract.job_name:
                foreign.append(job)
                continue
            saved = {key: checkpoint.manifest.get(key) for key in identity}
            digest = checkpoint.manifest.get("settings")
            if saved != identity:
                problem = f"it holds {_describe(saved)}, this job trains {_describe(identity)}"
            elif digest and self.trainer.settings_digest and digest != self.trainer.settings_digest:
                problem = (
                    "it was trained with other settings (rl.* overrides, env_config, framework "
                    "or seed differ)"
                )
            else:
                iteration, problem = self._load(checkpoint)
                if iteration is not None:
                    logger.info(
                        "Resumed from %s: training continues at iteration %d",
                        checkpoint.describe(),
                        iteration + 1,
                    )
                    self.curve.resume(iteration)
                    return checkpoint.path.name
            logger.warning("Checkpoint %s is unusable: %s", checkpoint.describe(), problem)
            problems.append(f"{checkpoint.path.name}: {problem}")
        if problems:
            raise UserError(
                f"no usable checkpoint in {self.store.root} ({'; '.join(problems)}): remove "
                f"them, or give the job another checkpoint location, to start over"
            )
        if foreign:
            logger.warning(
                "Not resuming the %d checkpoint(s) of training job %s in %s: this is job %s, "
                "which starts fresh (a job continues another's training from a warm-start "
                "channel)",
                len(foreign),
                ", ".join(sorted(set(foreign))),
                self.store.root,
                self.contract.job_name,
            )
        warm = self._warm_start()
        if warm is not None:
            return warm
        self.trainer.start_fresh()
        self.curve.resume(0)  # a fresh start: an older run's history is not this one's
        return None

    def _warm_start(self) -> str | None:
        """A job with nothing of its own to resume starts from the checkpoint in its
        `checkpoint` input channel, if it has one (as the old SageMaker RL launchers did)."""
        assert self.curve is not None
        channel = self.contract.channels.get(WARM_START_CHANNEL)
        if channel is None:
            return None
        where = f"input channel '{WARM_START_CHANNEL}'"
        found = [
            c for d in (channel, *_subdirectories(channel)) for c in CheckpointStore(d).valid()
        ]
        itself = CheckpointStore.read(channel)  # the channel holds one checkpoint's files
        if itself is not None:
            found.append(itself)
        found.sort(key=lambda checkpoint: checkpoint.iteration, reverse=True)
        exported = [
            c
            for d in (channel, *_subdirectories(channel))
            if (c := self.trainer.exported_checkpoint(d)) is not None
        ]
        candidates = found + exported
        if not candidates:
            raise UserError(
                f"{where} holds no checkpoint: give it a checkpoint-NNNNNN/ directory from a "
                f"job's checkpoint location (or the contents of a model.tar.gz with one)"
            )
        checkpoint = candidates[0]
        identity = self.trainer.identity
        saved = {key: checkpoint.manifest.get(key) for key in identity}
        if saved != identity:
            raise UserError(
                f"{where}: {checkpoint.describe()} holds {_describe(saved)}, this job trains "
                f"{_describe(identity)}: warm-start from a checkpoint of the same kind"
            )
        iteration, problem = self._load(checkpoint)
        if iteration is None:
            raise UserError(f"{where}: {checkpoint.describe()} is unusable: {problem}")
        logger.info(
            "Warm start from %s: %s; training continues at iteration %d",
            where,
            checkpoint.describe(),
            iteration + 1,
        )
        self.curve.resume(iteration)
        return f"{WARM_START_CHANNEL} channel: {checkpoint.path.name}"

    def _load(self, checkpoint: Checkpoint) -> tuple[int | None, str]:
        """Verify `checkpoint`'s files and restore it: (its iteration, "") or (None, why not).
        A `UserError` from the toolkit fails the job."""
        problem = self.store.verify(checkpoint)
        if problem:
            return None, problem
        try:
            return self.trainer.restore(checkpoint), ""
        except UserError:
            raise
        except Exception as error:
            return None, summarize(error)

    # -- train

    def _train(self) -> str:
        iteration, timesteps = self.trainer.progress()
        already = self.stop.already_reached(iteration, timesteps)
        if already:
            return f"{already}, reached before this run"
        signals.install()
        self.started = self.last_checkpoint_at = time.monotonic()
        return self.trainer.train(self._iteration_done)

    def _iteration_done(self, metrics: IterationMetrics) -> str | None:
        assert self.curve is not None
        self.last = metrics
        elapsed = time.monotonic() - self.started
        self.stop.record(metrics)
        print_line(metrics_line(metrics))
        ray1_line = ray1_metrics_line(metrics)
        if ray1_line:
            print_line(ray1_line)
        print_line(progress_line(metrics, self.stop, elapsed))
        self.curve.record(metrics)  # after the metric line: logs first, the view second
        reason = self.stop.reached(metrics, elapsed)
        if reason:
            return reason
        try:
            self.trainer.check_health()
        except UserError:
            self.checkpoint()
            raise
        if signals.requested():
            saved = self.checkpoint()
            raise TrainingInterrupted(
                f"training interrupted by SIGTERM after iteration {metrics.iteration}; "
                f"{saved.path.name} saved in {self.store.root}: run the job again with the "
                f"same checkpoint location to resume"
            )
        frequency = self.settings.checkpoint_frequency
        seconds = self.settings.checkpoint_seconds
        if (frequency and metrics.iteration % frequency == 0) or (
            seconds and time.monotonic() - self.last_checkpoint_at >= seconds
        ):
            self.checkpoint()
        return None

    def checkpoint(self) -> Checkpoint:
        iteration, timesteps = self.trainer.progress()
        if self.last_saved is not None and self.last_saved.iteration == iteration:
            return self.last_saved
        started = time.monotonic()
        mean_return = self.last.episode_return_mean if self.last else math.nan
        manifest = {
            **self.trainer.identity,
            "job": self.contract.job_name,
            "settings": self.trainer.settings_digest,
            "timesteps": timesteps,
            "episode_return_mean": json_number(mean_return),
        }
        self.last_saved = self.store.save(iteration, self.trainer.save, manifest)
        self.last_checkpoint_at = time.monotonic()
        logger.info(
            "Checkpoint %s saved in %.2f s", self.last_saved.describe(), time.monotonic() - started
        )
        return self.last_saved

    # -- export and summary

    def _finish(self, reason: str, resumed: str | None) -> TrainingSummary:
        final = self.checkpoint()
        _stop_if_asked(
            f"after training, before export; {final.path.name} saved in {self.store.root}: run "
            f"the job again with the same checkpoint location to export it"
        )
        evaluation = self.stop.evaluation
        summary = TrainingSummary(
            iterations=final.iteration,
            timesteps=int(final.manifest["timesteps"]),
            # null in the manifest when no episode has finished yet
            episode_return_mean=as_float(final.manifest.get("episode_return_mean")),
            evaluation_return_mean=evaluation[0] if evaluation else self._last_evaluation(),
            stop_reason=reason,
            resumed_from=resumed,
            exported=[],
        )
        training = {
            "iterations": summary.iterations,
            "timesteps": summary.timesteps,
            "episode_return_mean": json_number(summary.episode_return_mean),
            # what a mean-return stop condition compares: the last N episodes' mean
            "recent_episode_return_mean": json_number(self.stop.recent.mean),
            "recent_episodes": self.stop.recent.count,
            # the evaluation that confirmed (or last refused) a mean-return stop, else the
            # toolkit's own last evaluation (Coach's evaluation periods)
            "evaluation_return_mean": json_number(summary.evaluation_return_mean),
            "evaluation_episodes": evaluation[1]
            if evaluation
            else self._last_evaluation_episodes(),
            "stop_reason": reason,
            "resumed_from": resumed,
            "hosts": len(self.contract.hosts),
        }
        model_dir = self.contract.model_dir
        model_dir.mkdir(parents=True, exist_ok=True)
        kept = self.trainer.keep_checkpoint(final, model_dir)
        logger.info("Final checkpoint %s kept in %s", final.describe(), kept)
        try:
            exported = self.trainer.export(model_dir, training)
        except Exception as error:
            logger.exception("Export failed")
            raise ExportFailed.after_training(
                error,
                f"{final.describe()} is in {kept} (model.tar.gz) and in {self.store.root}",
            ) from error
        return dataclasses.replace(summary, exported=exported)

    def _last_evaluation(self) -> float:
        """The evaluation return the toolkit reported with the last iteration (Coach's
        evaluation periods), if any."""
        if self.last is None:
            return math.nan
        return self.last.losses.get("evaluation_return_mean", math.nan)

    def _last_evaluation_episodes(self) -> int:
        if self.last is None:
            return 0
        return int(self.last.losses.get("evaluation_episodes", 0))


def _stop_if_asked(when: str) -> None:
    if signals.requested():
        raise TrainingInterrupted(f"training interrupted by SIGTERM {when}")


def progress_line(metrics: IterationMetrics, stop: StopConditions, elapsed_s: float) -> str:
    """The line a person reads after each iteration."""
    returns = (
        "no episode finished yet"
        if math.isnan(metrics.episode_return_mean)
        else f"return {metrics.episode_return_mean:.1f} "
        f"(min {metrics.episode_return_min:.1f}, max {metrics.episode_return_max:.1f})"
    )
    evaluation = metrics.losses.get("evaluation_return_mean")
    evaluated = f", evaluation {evaluation:.1f}" if evaluation is not None else ""
    targets = stop.progress(metrics, elapsed_s)
    return (
        f"Iteration {metrics.iteration}: {metrics.timesteps_total} env steps, {returns}"
        f"{evaluated}, {metrics.time_this_iter_s:.1f} s this iteration, {elapsed_s:.0f} s "
        f"elapsed{f'; stop at {targets}' if targets else ''}"
    )


def settings_digest(settings: dict[str, Any]) -> str:
    """A short, stable digest of JSON-able settings."""
    text = json.dumps(settings, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def json_number(value: float) -> float | None:
    return None if math.isnan(value) else value


def replace_with_copy(source: Path, target: Path) -> None:
    """`target` becomes a copy of the directory `source`."""
    if target.is_dir():
        shutil.rmtree(target)
    elif target.exists():
        target.unlink()
    shutil.copytree(source, target)


def _subdirectories(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_dir()) if directory.is_dir() else []


def _describe(identity: dict[str, Any]) -> str:
    return " on ".join(str(value) for value in identity.values())
