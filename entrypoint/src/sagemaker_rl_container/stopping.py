"""When training stops: the `rl_stop_*` conditions, checked after every iteration."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sagemaker_rl_container.metrics import IterationMetrics


@dataclass(frozen=True)
class StopConditions:
    """Training stops when any condition set here is met.

    Iterations and timesteps count from the job's first start (they continue after a resume);
    seconds count this container run only, as SageMaker's own run-time limit does per attempt.
    """

    iterations: int | None = None
    timesteps: int | None = None
    mean_return: float | None = None
    seconds: float | None = None

    def reached(self, metrics: IterationMetrics, elapsed_s: float) -> str | None:
        """The reason to stop now, or None to go on."""
        mean = metrics.episode_return_mean
        if self.mean_return is not None and _at_least(mean, self.mean_return):
            return f"mean return {metrics.episode_return_mean:.6g} >= {self.mean_return:g}"
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
            parts.append(f"mean return >= {self.mean_return:g}")
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
            parts.append(f"return {metrics.episode_return_mean:.1f}/{self.mean_return:g}")
        if self.iterations is not None:
            parts.append(f"iteration {metrics.iteration}/{self.iterations}")
        if self.timesteps is not None:
            parts.append(f"timesteps {metrics.timesteps_total}/{self.timesteps}")
        if self.seconds is not None:
            parts.append(f"time {elapsed_s:.0f}/{self.seconds:g} s")
        return ", ".join(parts)


def _at_least(value: float, target: float) -> bool:
    return not math.isnan(value) and value >= target
