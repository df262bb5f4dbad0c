"""One training job, whatever the toolkit: prepare, restore, train, export, summarize.

    prepare    the toolkit builds its trainer from the contract and config (`Trainer.start`)
    restore    the newest checkpoint whose identity matches and whose state loads, else fresh
    train      after each iteration: the metric line, the progress line, the training curve,
               the stop conditions, the toolkit's health check, SIGTERM, periodic checkpoints
    export     the final checkpoint, kept in model/checkpoint first (a failed export loses
               nothing), then the servable model into model/
    summary    one "Done" line; `TrainingSummary` for the caller

A toolkit supplies a `Trainer` (toolkit.py; ray_rllib/trainer.py, coach/trainer.py) that does
only what differs between toolkits; everything a job does around it lives here, once, for both.
Where the job starts (which checkpoint, a warm start) is resume.py's.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

from sagemaker_rl_container import resume, signals
from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import ExportFailed, TrainingInterrupted, UserError
from sagemaker_rl_container.metrics import (
    IterationMetrics,
    as_float,
    metrics_line,
    print_line,
    ray1_metrics_line,
)
from sagemaker_rl_container.stopping import StopConditions
from sagemaker_rl_container.toolkit import Trainer
from sagemaker_rl_container.training_curve import TrainingCurve

logger = logging.getLogger(__name__)


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

    def _opened_curve(self) -> TrainingCurve:
        # A check, not an assert: it must hold under `python -O` too.
        if self.curve is None:
            raise RuntimeError("Job.run opens the training curve before restoring or training")
        return self.curve

    # -- restore

    def _restore(self) -> str | None:
        """Restore what the job resumes from (resume.py); None when it starts fresh."""
        curve = self._opened_curve()
        resumed, iteration = resume.start_point(self.contract, self.store, self.trainer)
        # A fresh start (0): an older run's history is not this one's.
        curve.resume(iteration)
        return resumed

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
        curve = self._opened_curve()
        self.last = metrics
        elapsed = time.monotonic() - self.started
        self.stop.record(metrics)
        print_line(metrics_line(metrics))
        ray1_line = ray1_metrics_line(metrics)
        if ray1_line:
            print_line(ray1_line)
        print_line(progress_line(metrics, self.stop, elapsed))
        curve.record(metrics)  # after the metric line: logs first, the view second
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


def json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
