"""`rl_tune_space`: which `rl.<section>.<setting>` values a sweep tries, as Ray Tune domains.

    {"rl.training.lr": {"loguniform": [0.0001, 0.01]},
     "rl.training.num_epochs": [5, 10, 20],
     "rl.training.gamma": {"uniform": [0.95, 0.999]}}

A list is a grid (rl_tune_search=grid) or a choice; a range is drawn from. Each key is checked
against the algorithm's config as an override is, and each value as it would be set, before
Ray starts. The parse itself needs no config (`Space.parse`), so the number of trials is known
when the config is sized (sizing.trial_cpus); `Space.param_space` then places the domains in
the config's own dict, which is what a Tune trial of an RLlib algorithm receives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError, shown
from sagemaker_rl_container.ray_rllib import overrides

LISTS = ("grid", "choice")
RANGES = ("uniform", "loguniform", "randint")
DEFAULT_SAMPLES = {"grid": 1, "random": 4, "pbt": 4}


@dataclass(frozen=True)
class Dimension:
    """One tuned setting: `key` as the user wrote it (rl.training.lr), its values."""

    key: str
    kind: str  # one of LISTS or RANGES
    values: tuple[Any, ...]  # a list's values, or a range's (low, high)

    def describe(self) -> str:
        if self.kind in LISTS:
            return f"{self.key} in {list(self.values)}"
        low, high = self.values
        return f"{self.key} {self.kind} in [{shown(low)}, {shown(high)}]"


@dataclass(frozen=True)
class Space:
    search: str  # grid, random or pbt
    dimensions: tuple[Dimension, ...]
    samples: int

    @classmethod
    def parse(cls, job: JobConfig) -> Space:
        search = job.tune_search or "random"
        dimensions = tuple(_dimension(key, value) for key, value in job.tune_space.items())
        ranged = [d.key for d in dimensions if d.kind in RANGES]
        if search == "grid" and ranged:
            raise UserError(
                f"hyperparameter rl_tune_space: {ranged[0]} is a range, which "
                f"rl_tune_search=grid cannot enumerate: give it a list of values"
            )
        samples = job.tune_samples or DEFAULT_SAMPLES[search]
        space = cls(search, dimensions, samples)
        if search == "pbt" and space.trials < 2:
            raise UserError(
                "hyperparameter rl_tune_samples: Population Based Training needs a "
                "population of at least 2 trials"
            )
        return space

    @property
    def trials(self) -> int:
        """Each grid point, `samples` times (random and pbt draw the rest for each)."""
        return self.samples * math.prod(len(d.values) for d in self.dimensions if self._grid(d))

    def _grid(self, dimension: Dimension) -> bool:
        """Whether the dimension's values are enumerated: {"grid": [...]} always (a PBT
        population can start from exactly those values), a plain list under grid search."""
        return dimension.kind == "grid" or (self.search == "grid" and dimension.kind == "choice")

    def describe(self) -> str:
        return "; ".join(d.describe() for d in self.dimensions)

    def param_space(self, config: Any) -> tuple[dict[str, Any], dict[str, str]]:
        """The config as a dict with each tuned setting a Tune domain, and which of its keys
        holds each setting (rl.training.lr -> lr)."""
        base = config.to_dict()
        space, keys = dict(base), {}
        for dimension in self.dimensions:
            key, candidates = _config_key(config, base, dimension)
            keys[dimension.key] = key
            space[key] = self._domain(dimension, candidates)
        return space, keys

    def mutations(self, space: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
        """PBT's hyperparam_mutations: what an explored setting is drawn from again."""
        from ray import tune

        mutations = {}
        for dimension in self.dimensions:
            domain = space[keys[dimension.key]]
            # PBT takes a list to pick neighbours from, or a domain to redraw.
            if isinstance(domain, dict):  # a grid: {"grid_search": [...]}
                domain = list(domain["grid_search"])
            elif isinstance(domain, tune.search.sample.Categorical):
                domain = list(domain.categories)
            mutations[keys[dimension.key]] = domain
        return mutations

    def _domain(self, dimension: Dimension, values: tuple[Any, ...]) -> Any:
        from ray import tune

        if self._grid(dimension):
            return tune.grid_search(list(values))
        if dimension.kind in LISTS:
            return tune.choice(list(values))
        low, high = values
        if dimension.kind == "randint":
            return tune.randint(low, high + 1)  # Tune's high is excluded; ours is included
        if dimension.kind == "loguniform":
            return tune.loguniform(low, high)
        return tune.uniform(low, high)


def _dimension(key: str, value: Any) -> Dimension:
    if not key.startswith("rl.") or key.count(".") != 2:
        raise UserError(
            f"hyperparameter rl_tune_space: {key!r} is not an RLlib setting; keys are "
            f"rl.<section>.<setting>, e.g. rl.training.lr"
        )
    if isinstance(value, list):
        kind, values = "choice", value
    elif isinstance(value, dict) and len(value) == 1:
        kind, values = next(iter(value.items()))
    else:
        kind, values = "", None
    if kind not in (*LISTS, *RANGES) or not isinstance(values, list) or not values:
        raise UserError(
            f"hyperparameter rl_tune_space: {key}={shown(value)} is not a list of values nor "
            f'one of {{"grid"|"choice": [...]}}, {{"uniform"|"loguniform"|"randint": '
            f"[low, high]}}"
        )
    if kind in RANGES:
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if len(values) != 2 or not numeric or not values[0] < values[1]:
            raise UserError(
                f"hyperparameter rl_tune_space: {key}: {kind} takes [low, high] with "
                f"low < high, not {shown(values)}"
            )
        if kind == "loguniform" and values[0] <= 0:
            raise UserError(
                f"hyperparameter rl_tune_space: {key}: loguniform needs a positive low, "
                f"not {shown(values[0])}"
            )
        if kind == "randint" and not all(isinstance(v, int) for v in values):
            raise UserError(
                f"hyperparameter rl_tune_space: {key}: randint takes whole numbers, "
                f"not {shown(values)}"
            )
    return Dimension(key, kind, tuple(values))


def _config_key(config: Any, base: dict[str, Any], dimension: Dimension) -> tuple[str, tuple]:
    """Set each value (a range: its ends) as an override would, on a copy of the config: the
    key of the config's dict that changes is the setting's, and the values as set there (a
    wrong type or a value RLlib refuses fails here, naming the hyperparameter)."""
    dotted = dimension.key.removeprefix("rl.")
    setting = dotted.split(".")[1]
    results = []
    for value in dimension.values:
        trial = config.copy(copy_frozen=False)
        try:
            overrides.apply(trial, {dotted: value}, quiet=True)
        except UserError as error:  # it names the setting; the sweep names where it was
            raise UserError(
                f"hyperparameter rl_tune_space: {str(error).removeprefix('hyperparameter ')}"
            ) from None
        results.append(trial.to_dict())
    changed = {key for after in results for key in after if _differs(after[key], base.get(key))}
    # RLlib's dict names a few settings differently (lambda_ is "lambda").
    named = [key for key in (setting, setting.rstrip("_")) if key in base]
    key = named[0] if named else next(iter(changed)) if len(changed) == 1 else None
    if key is None:
        raise UserError(
            f"hyperparameter rl_tune_space: {dimension.key} could not be tuned: setting it "
            f"changes {', '.join(sorted(changed)) or 'nothing'} in the algorithm's config"
        )
    return key, tuple(after[key] for after in results)


def _differs(a: Any, b: Any) -> bool:
    try:
        return bool(a != b)
    except Exception:  # arrays and the like
        return True
