"""A Coach job's settings, from hyperparameters.

- `RLCOACH_PRESET` (as in SageMaker's Coach examples; `rl_preset` works too): the preset, a
  Python file in the source directory building `graph_manager` (or a preset shipped with Coach).
- `rl.<path>[:Type]`: preset overrides (coach/overrides.py).
- `rl_<name>`: the launcher's own settings below.
Other keys are left to the preset (it may read them) and logged as unused.

Pure pydantic: importing this module does not import Coach. Annotations stay `Optional[...]`:
pydantic evaluates them at runtime, and Coach images run Python 3.9.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from sagemaker_rl_container.coach.overrides import Override, parse_all
from sagemaker_rl_container.config import (
    DEFAULT_CHECKPOINT_SECONDS,
    Setting,
    decode_value,
    settings_of,
    validation_error_line,
)
from sagemaker_rl_container.errors import UserError

PRESET_KEY = "RLCOACH_PRESET"
SETTING_PREFIX = "rl_"


class CoachConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    preset: str = Field(
        description="preset file (without .py) in the source dir, or a preset shipped with Coach"
    )
    checkpoint_frequency: NonNegativeInt = Field(
        1, description="checkpoint every N evaluation periods (0: only at the end and on SIGTERM)"
    )
    checkpoint_keep: PositiveInt = Field(3, description="how many checkpoints to keep")
    checkpoint_seconds: Optional[PositiveFloat] = Field(
        DEFAULT_CHECKPOINT_SECONDS,
        description="also checkpoint once this many seconds passed since the last checkpoint "
        "(none: only by evaluation period)",
    )
    apply_stop_condition: bool = Field(
        False,
        description="stop once evaluation reaches the environment's success threshold "
        "(Coach's --apply_stop_condition)",
    )
    seed: Optional[int] = Field(None, description="Coach's random seed")
    dataset_channel: str = Field(
        "dataset", description="batch RL: the input channel holding the preset's CSV dataset"
    )
    export_model: bool = Field(True, description="export the trained network into model/")
    rollout_workers_per_host: PositiveInt = Field(
        1,
        description="multi-host jobs (distributed Coach): rollout worker processes on each "
        "host, the head's included",
    )
    cluster_timeout: PositiveFloat = Field(
        300,
        description="multi-host jobs: seconds to wait for the head's Redis and for every "
        "rollout worker to join",
    )
    head_instance_group: Optional[str] = Field(
        None,
        description="heterogeneous jobs: the instance group whose first host runs the trainer",
    )
    overrides: list[Override] = Field(default_factory=list)

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> CoachConfig:
        settings: dict[str, Any] = {}
        for key, value in hyperparameters.items():
            if key == PRESET_KEY:
                settings["preset"] = value
            elif key.startswith(SETTING_PREFIX):
                name = key[len(SETTING_PREFIX) :]
                if name not in cls.model_fields or name == "overrides":
                    raise UserError(_unknown(key))
                settings[name] = decode_value(value)
        if "preset" not in settings:
            raise UserError(
                f"no preset: set the {PRESET_KEY} hyperparameter to a preset file of your source "
                f"directory (e.g. {PRESET_KEY}=preset-cartpole-clippedppo for "
                f"preset-cartpole-clippedppo.py)"
            )
        parsed = parse_all(hyperparameters)
        try:
            return cls(**settings, overrides=parsed)
        except ValidationError as error:
            raise UserError(validation_error_line(error, key_of=_key_of)) from None

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        names = [SETTING_PREFIX + name for name in cls.model_fields]
        return [PRESET_KEY] + [n for n in names if n not in ("rl_preset", "rl_overrides")]


def coach_settings() -> list[Setting]:
    return [
        *settings_of(CoachConfig, key_of=_key_of),
        Setting(
            "rl.<path>[:<Type>]",
            "none",
            "set any attribute under the preset's graph_manager, e.g. "
            "rl.agent_params.algorithm.discount=0.9, rl.improve_steps:TrainingSteps=100; types: "
            "EnvironmentSteps, EnvironmentEpisodes, TrainingSteps, Time, Frames, int, float, str, "
            "bool; every step of the path must exist",
        ),
    ]


def _key_of(field: str) -> str:
    return PRESET_KEY if field == "preset" else SETTING_PREFIX + field


def _unknown(key: str) -> str:
    known = CoachConfig.hyperparameter_names()
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown hyperparameter {key}{hint}; known Coach settings: {', '.join(known)}"
