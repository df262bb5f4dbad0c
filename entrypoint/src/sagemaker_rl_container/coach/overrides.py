"""Dotted preset overrides: `rl.agent_params.algorithm.discount=0.9`, as SageMaker's Coach
examples passed them.

The key after `rl.` is a path of attributes (or dict keys) from the preset's `graph_manager`;
an optional `:Type` suffix wraps the value in that type (`rl.improve_steps:TrainingSteps=100`
sets `graph_manager.improve_steps = TrainingSteps(100)`). Values are decoded as every
hyperparameter is (config.decode_value: JSON or Python literals), and must fit the kind of the
preset's current value: a string never replaces a number, a bool, a dict or a list.

Pure Python: nothing here imports Coach, so the rules are tested without it.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from sagemaker_rl_container.config import decode_value, whole_number
from sagemaker_rl_container.errors import UserError, shown

PREFIX = "rl."


def _to_bool(value: Any) -> bool:
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, (bool, int)):
        return bool(value)
    raise ValueError(f"{value!r} is not a boolean")


# Always available; the launcher adds Coach's step types (EnvironmentSteps, TrainingSteps, ...).
BUILTIN_TYPES: dict[str, Callable[[Any], Any]] = {
    "int": whole_number,
    "float": float,
    "str": str,
    "bool": _to_bool,
}


@dataclass(frozen=True)
class Override:
    key: str  # the hyperparameter as given, for messages
    path: tuple[str, ...]
    type_name: Optional[str]
    value: Any


def counted(step_type: Callable[[int], Any]) -> Callable[[Any], Any]:
    """A Coach step type (EnvironmentSteps, TrainingSteps, ...) that takes whole numbers only."""

    def make(value: Any) -> Any:
        return step_type(whole_number(value))

    return make


def parse(key: str, value: Any) -> Override:
    """`rl.a.b:Type` and its value, checked for shape (not yet against the preset)."""
    if not key.startswith(PREFIX):
        raise ValueError(f"{key} is not an {PREFIX} override")
    dotted, _, type_name = key[len(PREFIX) :].partition(":")
    path = tuple(dotted.split("."))
    if not dotted or any(not part.isidentifier() for part in path):
        raise UserError(
            f"hyperparameter {key}: expected rl.<attribute>[.<attribute>...][:<Type>], "
            f"e.g. rl.agent_params.algorithm.discount=0.99"
        )
    if any(part.startswith("_") for part in path):
        raise UserError(f"hyperparameter {key}: private attributes cannot be overridden")
    if ":" in key and not type_name:
        raise UserError(f"hyperparameter {key}: empty type after ':'")
    return Override(key, path, type_name or None, decode_value(value))


def parse_all(hyperparameters: Mapping[str, Any]) -> list[Override]:
    return [parse(key, value) for key, value in hyperparameters.items() if key.startswith(PREFIX)]


def convert(
    override: Override, types: Mapping[str, Callable[[Any], Any]], current: Any = None
) -> Any:
    """The value to set: wrapped in the override's `:Type`, else checked against the kind of
    the preset's `current` value."""
    if override.type_name is None:
        return _fitting(override, current)
    factory = types.get(override.type_name)
    if factory is None:
        raise UserError(
            f"hyperparameter {override.key}: unknown type {override.type_name!r}; "
            f"known: {', '.join(sorted(types))}"
        )
    try:
        return factory(override.value)
    except (TypeError, ValueError) as error:
        raise UserError(
            f"hyperparameter {override.key}={shown(override.value)}: not a valid "
            f"{override.type_name} ({error})"
        ) from None


def _fitting(override: Override, current: Any) -> Any:
    value = override.value
    if isinstance(current, bool):
        expected = "true or false"
        fits = isinstance(value, bool)
    elif isinstance(current, (int, float)):
        expected = "a number"
        fits = isinstance(value, (int, float)) and not isinstance(value, bool)
        # An int in a preset is not always a count (`action_penalty = 0`): only `:int` and the
        # step types insist on whole numbers.
        if fits and isinstance(current, float):
            value = float(value)
    elif isinstance(current, dict):
        expected, fits = "an object", isinstance(value, dict)
    elif isinstance(current, (list, tuple)):
        expected, fits = "a list", isinstance(value, list)
    else:
        return value
    if not fits:
        has = repr(current) if isinstance(current, (bool, int, float)) else type(current).__name__
        raise UserError(
            f"hyperparameter {override.key}={shown(override.value)}: expected {expected} (the "
            f"preset has {has})"
        )
    return value


def _children(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [str(key) for key in obj]
    return (
        [name for name in vars(obj) if not name.startswith("_")] if hasattr(obj, "__dict__") else []
    )


def _missing(override: Override, depth: int, obj: Any) -> UserError:
    name = override.path[depth]
    where = ".".join(("graph_manager", *override.path[:depth]))
    children = _children(obj)
    close = difflib.get_close_matches(name, children, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    kind = "key" if isinstance(obj, dict) else "attribute"
    return UserError(
        f"hyperparameter {override.key}: {where} ({type(obj).__name__}) has no {kind} "
        f"{name!r}{hint}"
    )


def apply(root: Any, override: Override, types: Mapping[str, Callable[[Any], Any]]) -> Any:
    """Set the override on `root` (the graph manager); returns the value set. Every step of the
    path, the last one included, must already exist: a typo fails instead of doing nothing."""
    obj = root
    for depth, name in enumerate(override.path):
        last = depth == len(override.path) - 1
        if isinstance(obj, dict):
            if name not in obj:
                raise _missing(override, depth, obj)
            if last:
                value = convert(override, types, obj[name])
                obj[name] = value
                return value
            obj = obj[name]
        else:
            if not hasattr(obj, name):
                raise _missing(override, depth, obj)
            if last:
                value = convert(override, types, getattr(obj, name))
                setattr(obj, name, value)
                return value
            obj = getattr(obj, name)
    raise AssertionError("unreachable")
