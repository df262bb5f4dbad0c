"""When training stops: the `rl_stop_*` conditions, checked after every iteration."""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sagemaker_rl_container.config import DEFAULT_MEAN_RETURN_EPISODES
from sagemaker_rl_container.metrics import IterationMetrics

logger = logging.getLogger(__name__)


@dataclass
class RecentReturns:
    """The mean return of the most recent finished episodes, at least `episodes` of them.

    RLlib's `episode_return_mean` (new API stack) averages only the episodes that ended during
    the last iteration. With small batches and long episodes that is one or two, and one lucky
    episode can cross a target the policy does not reach. Whole iterations are combined,
    newest first, until they hold `episodes`; each iteration's mean times its episode count is
    the sum of those episodes' returns, so the combined mean is exact.
    """

    episodes: int = DEFAULT_MEAN_RETURN_EPISODES
    _iterations: deque[tuple[float, int]] = field(default_factory=deque, repr=False)

    def record(self, metrics: IterationMetrics) -> None:
        count = metrics.episodes_this_iter
        if count is None:  # the toolkit gives no count: its mean is all there is
            count = 0 if math.isnan(metrics.episode_return_mean) else self.episodes
        if count <= 0 or math.isnan(metrics.episode_return_mean):
            return
        self._iterations.append((metrics.episode_return_mean, count))
        while self._iterations and self.count - self._iterations[0][1] >= self.episodes:
            self._iterations.popleft()

    @property
    def count(self) -> int:
        """How many episodes `mean` covers (or would, once there are enough)."""
        return sum(count for _, count in self._iterations)

    @property
    def mean_so_far(self) -> float:
        """The mean of the episodes held, however few (NaN if none)."""
        count = self.count
        return sum(mean * n for mean, n in self._iterations) / count if count else math.nan

    @property
    def mean(self) -> float:
        """NaN until `episodes` episodes have finished."""
        if self.count < self.episodes:
            return math.nan
        return sum(mean * count for mean, count in self._iterations) / self.count


@dataclass
class StopConditions:
    """Training stops when any condition set here is met.

    Iterations and timesteps count from the job's first start (they continue after a resume);
    seconds count this container run only, as SageMaker's own run-time limit does per attempt.
    The mean return is that of the last `recent.episodes` (or more) finished episodes; where
    `evaluate` is set (it plays episodes with the policy as exported and returns their mean
    return and count), that must reach the target too before training stops on it.
    Call `record` with each iteration's metrics before asking `reached` or `progress`.
    """

    iterations: int | None = None
    timesteps: int | None = None
    mean_return: float | None = None
    seconds: float | None = None
    recent: RecentReturns = field(default_factory=RecentReturns)
    evaluate: Callable[[], tuple[float, int]] | None = None
    # The last evaluation's (mean return, episodes), once one ran.
    evaluation: tuple[float, int] | None = None

    def record(self, metrics: IterationMetrics) -> None:
        self.recent.record(metrics)

    def reached(self, metrics: IterationMetrics, elapsed_s: float) -> str | None:
        """The reason to stop now, or None to go on."""
        mean = self.recent.mean
        if self.mean_return is not None and _at_least(mean, self.mean_return):
            reason = (
                f"mean return {mean:.6g} over the last {self._episodes_text()} >= "
                f"{self.mean_return:g}"
            )
            if self.evaluate is None:
                return reason
            evaluated, episodes = self.evaluation = self.evaluate()
            if _at_least(evaluated, self.mean_return):
                return (
                    f"{reason}, and {evaluated:.6g} in an evaluation of the policy as exported "
                    f"({_plural(episodes, 'episode')})"
                )
            logger.info(
                "Training reached %s, but the policy as exported averaged %.6g over %s of "
                "evaluation: training goes on",
                reason,
                evaluated,
                _plural(episodes, "episode"),
            )
        if self.iterations is not None and metrics.iteration >= self.iterations:
            return f"iteration {metrics.iteration} >= {self.iterations}"
        if self.timesteps is not None and metrics.timesteps_total >= self.timesteps:
            return f"timesteps {metrics.timesteps_total} >= {self.timesteps}"
        if self.seconds is not None and elapsed_s >= self.seconds:
            return f"{elapsed_s:.0f} s of training >= {self.seconds:g} s"
        return None

    def already_reached(self, iteration: int, timesteps: int) -> str | None:
        """A resumed job may have met its counted targets before it was interrupted."""
        if self.iterations is not None and iteration >= self.iterations:
            return f"iteration {iteration} >= {self.iterations}"
        if self.timesteps is not None and timesteps >= self.timesteps:
            return f"timesteps {timesteps} >= {self.timesteps}"
        return None

    def describe(self) -> str:
        parts = []
        if self.mean_return is not None:
            parts.append(
                f"mean return >= {self.mean_return:g} (over the last "
                f"{_plural(self.recent.episodes, 'episode')})"
            )
        if self.iterations is not None:
            parts.append(f"iteration {self.iterations}")
        if self.timesteps is not None:
            parts.append(f"{self.timesteps} timesteps")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return " or ".join(parts) or "never (no stop condition)"

    def progress(self, metrics: IterationMetrics, elapsed_s: float) -> str:
        """How far each condition is, for the human-readable progress line."""
        parts = []
        if self.mean_return is not None:
            if math.isnan(self.recent.mean):
                parts.append(
                    f"return -/{self.mean_return:g} ({self.recent.count} of "
                    f"{self.recent.episodes} episodes finished)"
                )
            else:
                parts.append(
                    f"return {self.recent.mean:.1f}/{self.mean_return:g} (last "
                    f"{self._episodes_text()})"
                )
        if self.iterations is not None:
            parts.append(f"iteration {metrics.iteration}/{self.iterations}")
        if self.timesteps is not None:
            parts.append(f"timesteps {metrics.timesteps_total}/{self.timesteps}")
        if self.seconds is not None:
            parts.append(f"time {elapsed_s:.0f}/{self.seconds:g} s")
        return ", ".join(parts)

    def _episodes_text(self) -> str:
        return _plural(self.recent.count, "episode")


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _at_least(value: float, target: float) -> bool:
    return not math.isnan(value) and value >= target
