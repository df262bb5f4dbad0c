"""Per-iteration metrics: one `name=value` line SageMaker's metric regexes read, one line a
person reads, and the matching `MetricDefinitions` for estimators and tuning jobs.

Every toolkit launcher maps its own result into an `IterationMetrics`, so all images log the same
names and one set of metric definitions works for all of them.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Marks the machine-readable lines. The regexes below match only in a line that carries the
# tag (anywhere in it: SageMaker local mode prefixes each line with the host's name), so that
# other output (Coach's own "Training iteration=3") never feeds a metric.
METRICS_TAG = "[rl-metrics]"
NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
# Ray 1.x printed its result dicts as `name: value` lines, and the SageMaker Python SDK's
# `RLEstimator.default_metric_definitions(RLToolkit.RAY)` (and the sample notebooks' tuning
# jobs) read `episode_reward_mean: <n>` and `episode_reward_max: <n>` from them.
# Its own tag: parsers of the `[rl-metrics] name=value` line never see it.
RAY1_METRICS_TAG = "[rl-metrics-ray1]"

# Always logged, in this order. `episode_reward_mean` repeats `episode_return_mean` under the name
# older SageMaker RL examples (and their tuning jobs) use.
CORE_METRICS = (
    "iteration",
    "timesteps_total",
    "episodes_total",
    "episode_return_mean",
    "episode_reward_mean",
    "episode_return_min",
    "episode_return_max",
    "episode_len_mean",
    "time_this_iter_s",
    "time_total_s",
)
# Logged when the algorithm reports them.
LOSS_METRICS = (
    "total_loss",
    "policy_loss",
    "vf_loss",
    "qf_loss",
    "alpha_loss",
    "entropy",
    "mean_kl_loss",
)
# Logged by launchers that evaluate separately from training (Coach's evaluation periods) or
# estimate returns off-policy (Coach's batch RL: inverse propensity scoring, direct method,
# doubly robust, sequential doubly robust, weighted importance sampling).
EVALUATION_METRICS = (
    "evaluation_return_mean",
    "evaluation_episodes",
    "ope_ips",
    "ope_dm",
    "ope_dr",
    "ope_seq_dr",
    "ope_wis",
)
OPTIONAL_METRICS = LOSS_METRICS + EVALUATION_METRICS
# Logged by a sweep inside the job (rl_tune_space) after each trial result: the best trial's
# objective so far (rl_tune_metric), and at the end the best trial's, so that a SageMaker tuner
# can tune the sweep itself; and how many trials the sweep has.
SWEEP_METRICS = ("tune_best_objective", "tune_trials")
# Logged for each policy of a multi-agent job, as policy_<policy>_<name>.
POLICY_METRICS = ("episode_return_mean", "episode_len_mean")


def policy_metric(policy: str, name: str) -> str:
    """A policy's metric name: policy_blue_episode_return_mean (non-word characters as _)."""
    return "policy_" + re.sub(r"\W", "_", policy) + "_" + name


@dataclass(frozen=True)
class IterationMetrics:
    iteration: int
    timesteps_total: int
    episodes_total: int
    episode_return_mean: float
    episode_return_min: float
    episode_return_max: float
    episode_len_mean: float
    time_this_iter_s: float
    time_total_s: float
    # Loss and evaluation figures, by the names in OPTIONAL_METRICS (others are not logged).
    losses: dict[str, float] = field(default_factory=dict)
    # How many episodes `episode_return_mean` averages (those that ended this iteration), when
    # the toolkit says; stopping on the mean return needs it (see stopping.RecentReturns).
    episodes_this_iter: int | None = None
    # A multi-agent job's figures by policy, by the names in POLICY_METRICS.
    policies: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, float]:
        values = {
            "iteration": self.iteration,
            "timesteps_total": self.timesteps_total,
            "episodes_total": self.episodes_total,
            "episode_return_mean": self.episode_return_mean,
            "episode_reward_mean": self.episode_return_mean,
            "episode_return_min": self.episode_return_min,
            "episode_return_max": self.episode_return_max,
            "episode_len_mean": self.episode_len_mean,
            "time_this_iter_s": self.time_this_iter_s,
            "time_total_s": self.time_total_s,
        }
        values.update({name: self.losses[name] for name in OPTIONAL_METRICS if name in self.losses})
        for policy, figures in self.policies.items():
            values.update({policy_metric(policy, name): figures[name] for name in POLICY_METRICS})
        return values


def as_float(value: Any) -> float:
    """A number from a toolkit's result or a manifest; NaN where there is none."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def format_value(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "nan"  # no episode finished yet: the regexes skip it rather than log a fake 0
    return f"{value:.6g}"


def metrics_line(metrics: IterationMetrics) -> str:
    fields = " ".join(f"{name}={format_value(value)}" for name, value in metrics.values.items())
    return f"{METRICS_TAG} {fields}"


# The tag as a whole word: `[rl-metrics-ray1]` never matches, and neither does a tag glued to the
# text after it. Anything may precede it (docker-compose's `algo-1-x7k2p  | `, a timestamp).
_TAGGED = re.compile(re.escape(METRICS_TAG) + r"(?=\s|$)")
_FIELD = re.compile(r"(\w+)=(\S*)")
_INTEGER = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(rf"{NUMBER}|[-+]?(?:nan|inf)")


def parse_value(text: str) -> int | float | str:
    """A value of the metric line as `format_value` wrote it: an int where the text is a whole
    number, a float for any other number (`nan`, `inf` and `1e+06` included), else the text."""
    if _INTEGER.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_line(line: str, *, raw: bool = False) -> dict[str, Any] | None:
    """The `name=value` fields of one `[rl-metrics]` line (the inverse of `metrics_line`), the
    values converted by `parse_value` (left as their text with `raw=True`); None for any other
    line. The tag may follow a prefix; words after it that are not `name=value` are skipped."""
    match = _TAGGED.search(line)
    if match is None:
        return None
    fields = (_FIELD.fullmatch(word) for word in line[match.end() :].split())
    return {field[1]: field[2] if raw else parse_value(field[2]) for field in fields if field}


def parse_log(text: str, *, raw: bool = False) -> list[dict[str, Any]]:
    """Every `[rl-metrics]` line of a log, parsed by `parse_line`, in order."""
    rows = (parse_line(line, raw=raw) for line in text.splitlines())
    return [row for row in rows if row is not None]


def ray1_metrics_line(metrics: IterationMetrics) -> str | None:
    """The same returns in Ray 1.x's `name: value` form, for the SDK's default metric
    definitions; None before any episode has finished."""
    values = {
        "episode_reward_mean": metrics.episode_return_mean,
        "episode_reward_max": metrics.episode_return_max,
        "episode_reward_min": metrics.episode_return_min,
    }
    fields = [f"{name}: {format_value(v)}" for name, v in values.items() if not math.isnan(v)]
    return f"{RAY1_METRICS_TAG} {' '.join(fields)}" if fields else None


def print_line(line: str) -> None:
    """Print one whole log line. `print()` writes the text and its newline separately, and with
    unbuffered output (PYTHONUNBUFFERED, as in the images) another thread's or stderr's output
    can land between the two, gluing foreign text onto a metric line that SageMaker's regexes
    and people then misread; one write of a short line reaches the pipe in one piece."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def write_whole_lines() -> None:
    """Make this process's `print()` reach stdout a whole line at a time. The images run Python
    unbuffered, so `print()` writes its text and its newline in two writes, and the job's
    other processes (Coach's rollout workers, a training program) share the container's
    stdout: a metric line could land between the two and no longer start its line, where
    SageMaker's regexes and people look for it. Line buffering joins them into one write."""
    with contextlib.suppress(AttributeError, ValueError, OSError):
        sys.stdout.reconfigure(line_buffering=True, write_through=False)  # type: ignore[union-attr]


def metric_definitions(policies: Sequence[str] = ()) -> list[dict[str, str]]:
    """SageMaker `MetricDefinitions` for every metric the launchers log; `policies`: a
    multi-agent job's policies, whose own metrics are added."""
    tag = re.escape(METRICS_TAG)
    per_policy = [policy_metric(policy, name) for policy in policies for name in POLICY_METRICS]
    return [
        {"Name": name, "Regex": f"{tag} (?:.* )?{name}=({NUMBER})"}
        for name in (*CORE_METRICS, *OPTIONAL_METRICS, *SWEEP_METRICS, *per_policy)
    ]


def metric_definitions_json(policies: Sequence[str] = ()) -> str:
    return json.dumps(metric_definitions(policies), indent=2)
