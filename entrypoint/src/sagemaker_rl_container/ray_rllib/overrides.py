"""`rl.<section>.<setting>=value` hyperparameters applied to an RLlib `AlgorithmConfig`.

`rl.training.lr=0.0003` becomes `config.training(lr=0.0003)`. Sections are the config's builder
methods; settings are those methods' keyword arguments (including the algorithm's own, e.g.
PPO's `clip_param`). Values are checked against the type of the setting's current value, so a
typo or a wrong type fails before Ray starts, naming the hyperparameter.
"""

from __future__ import annotations

import difflib
import inspect
import logging
import math
from typing import Any

from sagemaker_rl_container.config import whole_number
from sagemaker_rl_container.errors import UserError, shown

logger = logging.getLogger(__name__)

# The AlgorithmConfig builder methods users may override through hyperparameters.
SECTIONS = (
    "api_stack",
    "checkpointing",
    "debugging",
    "env_runners",
    "environment",
    "evaluation",
    "fault_tolerance",
    "framework",
    "learners",
    "multi_agent",
    "offline_data",
    "reporting",
    "resources",
    "rl_module",
    "training",
)
SPECIAL_STRINGS = ("auto",)  # e.g. rollout_fragment_length, num_cpus_per_learner
# Settings RLlib also takes as a schedule, [[timestep, value], ...].
SCHEDULABLE = ("lr", "entropy_coeff")
# Counts RLlib also takes as a range, (low, high), drawn anew for each sample (DQN's and SAC's
# n-step returns); JSON has no tuple, so the range arrives as [low, high].
RANGED = ("n_step",)


def apply(config: Any, overrides: dict[str, Any], quiet: bool = False) -> None:
    """`quiet`: do not log each override (a sweep's trial values, checked beforehand)."""
    for dotted, raw in overrides.items():
        key = f"rl.{dotted}"
        section, setting = _split(key, dotted, config)
        value = _coerce(key, raw, _current_value(config, setting))
        try:
            getattr(config, section)(**{setting: value})
        except Exception as error:
            raise UserError(
                f"hyperparameter {key}={shown(raw)} was rejected by RLlib: {error}"
            ) from None
        # What this job trains with, as Coach jobs log it: a tuning job's trials differ here.
        if not quiet:
            logger.info("Override %s = %s", key, shown(value))


def settings(config: Any, section: str) -> list[str]:
    """Keyword arguments `config.<section>()` accepts, across the algorithm's class hierarchy."""
    names: list[str] = []
    for klass in type(config).__mro__:
        method = klass.__dict__.get(section)
        if method is None:
            continue
        for parameter in inspect.signature(method).parameters.values():
            named = parameter.kind in (parameter.KEYWORD_ONLY, parameter.POSITIONAL_OR_KEYWORD)
            if named and parameter.name != "self" and parameter.name not in names:
                names.append(parameter.name)
    return names


def _split(key: str, dotted: str, config: Any) -> tuple[str, str]:
    parts = dotted.split(".")
    if len(parts) != 2 or not all(parts):
        raise UserError(
            f"hyperparameter {key}: expected rl.<section>.<setting>, e.g. rl.training.lr"
        )
    section, setting = parts
    available = [name for name in SECTIONS if callable(getattr(config, name, None))]
    if section not in available:
        raise UserError(
            f"hyperparameter {key}: unknown section {section!r}{_hint(section, available)}; "
            f"sections: {', '.join(available)}"
        )
    known = settings(config, section)
    if setting not in known:
        algorithm = type(config).__name__.removesuffix("Config")
        raise UserError(
            f"hyperparameter {key}: {algorithm} has no setting {setting!r} in "
            f"{section}(){_hint(setting, known)}"
        )
    return section, setting


def _hint(word: str, candidates: list[str]) -> str:
    close = difflib.get_close_matches(word, candidates, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _current_value(config: Any, setting: str) -> Any:
    for name in (setting, f"_{setting}"):
        try:
            return getattr(config, name)
        except Exception:
            continue
    return None


def _coerce(key: str, value: Any, current: Any) -> Any:
    """Convert `value` to the kind of `current`; reject what clearly does not fit."""
    setting = key.rsplit(".", 1)[-1]
    if isinstance(current, bool):
        if isinstance(value, bool):
            return value
        if value in (0, 1):
            return bool(value)
        raise UserError(f"hyperparameter {key}={shown(value)}: expected true or false")
    numeric = isinstance(current, int | float) or (current is None and _is_rate(setting))
    if numeric and value is not None:
        if isinstance(value, list):
            if setting in SCHEDULABLE:
                return _schedule(key, value)
            if setting in RANGED:
                return _range(key, value)
            raise UserError(
                f"hyperparameter {key}={shown(value)}: expected a number (a list: a schedule "
                f"for {' and '.join(SCHEDULABLE)}, a [low, high] range for {', '.join(RANGED)})"
            )
        if isinstance(value, str) and value in SPECIAL_STRINGS:
            return value
        number = _number(key, value)
        whole = isinstance(current, int) and not isinstance(current, bool)
        if whole and not _takes_fractions(setting):  # a count
            try:
                return whole_number(number)
            except ValueError as error:
                raise UserError(f"hyperparameter {key}={shown(value)}: {error}") from None
        if whole and number.is_integer():
            return int(number)
        return number if isinstance(current, float) or not isinstance(value, int) else value
    # Values arrive decoded (config.decode_value): text here is neither JSON nor a literal.
    wanted = dict if isinstance(current, dict) else list
    if isinstance(current, dict | list) and value is not None and not isinstance(value, wanted):
        kind = "an object" if wanted is dict else "a list"
        raise UserError(f"hyperparameter {key}={shown(value)}: expected {kind}")
    return value


def _takes_fractions(setting: str) -> bool:
    """Settings RLlib defaults to a whole number that still take fractions: resource amounts
    (half a CPU per env runner, a GPU shared by learners) and durations in seconds."""
    return setting.startswith(("num_cpus", "num_gpus")) or setting.endswith(
        ("_s", "timeout", "_fraction")
    )


def _is_rate(setting: str) -> bool:
    return setting == "lr" or setting.endswith("_lr")


def _number(key: str, value: Any) -> float:
    """A finite number, positive for learning rates."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UserError(f"hyperparameter {key}={shown(value)}: expected a number")
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"hyperparameter {key}={shown(value)}: expected a number") from None
    if not math.isfinite(number):
        raise UserError(f"hyperparameter {key}={shown(value)}: expected a finite number")
    if _is_rate(key.rsplit(".", 1)[-1]) and number <= 0:
        raise UserError(f"hyperparameter {key}={shown(value)}: a learning rate must be > 0")
    return number


def _range(key: str, value: list) -> tuple[int, int]:
    """RLlib's (low, high) range of a count, both ends included."""
    try:
        low, high = (whole_number(_number(key, end)) for end in value)
    except ValueError:
        low = high = 0
    if len(value) != 2 or not 1 <= low <= high:
        raise UserError(
            f"hyperparameter {key}={shown(value)}: a range is [low, high], whole numbers with "
            f"1 <= low <= high, e.g. [2, 5]"
        )
    return (low, high)


def _schedule(key: str, value: list) -> list:
    """RLlib's piecewise schedule: [[timestep, value], ...], timesteps from 0 upwards."""
    pairs = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
            raise UserError(
                f"hyperparameter {key}={shown(value)}: a schedule is a list of [timestep, "
                f"value] pairs, e.g. [[0, 0.001], [100000, 0.0001]]"
            )
        pairs.append([item[0], _number(key, item[1])])
    if pairs and pairs[0][0] != 0:
        raise UserError(f"hyperparameter {key}={shown(value)}: a schedule starts at timestep 0")
    return pairs
