"""The job's settings, parsed and validated from hyperparameters before anything starts.

Two families of keys are ours:
- `rl_<name>`: the settings in `JobConfig` below (algorithm, env, stop conditions, checkpoints).
- `rl.<section>.<setting>`: a dotted override of the toolkit's own configuration, e.g.
  `rl.training.lr=0.0003` calls `AlgorithmConfig.training(lr=0.0003)`; the toolkit launcher
  validates those against its config object.
Anything else is the user's own (their script or environment may read it) and is left alone.
Values arrive as strings, JSON-encoded or not; sagemaker-training decodes the JSON ones, and
pydantic's lax mode converts the rest ("10" -> 10, "true" -> True).

Annotations are `Optional[...]`, not `X | None`: pydantic evaluates them at runtime, and the Coach
images run Python 3.9.
"""

from __future__ import annotations

import difflib
import json
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
    field_validator,
)

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.stopping import (
    DEFAULT_EVALUATION_EPISODES,
    DEFAULT_MEAN_RETURN_EPISODES,
)

SETTING_PREFIX = "rl_"
OVERRIDE_PREFIX = "rl."


class JobConfig(BaseModel):
    """Zero-code job settings: the `rl_*` hyperparameters, with their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: str = Field(
        "PPO", description="RLlib algorithm name: PPO, DQN, SAC, APPO, IMPALA, ..."
    )
    env: str = Field(
        "CartPole-v1",
        description="gymnasium id, or `module:Class` / `module:factory` from the source dir",
    )
    env_config: dict[str, Any] = Field(
        default_factory=dict, description="JSON object passed to the environment's constructor"
    )
    framework: Optional[str] = Field(
        None, description="torch, tf or tf2; default: torch if the image has it, else tf"
    )
    stop_iterations: Optional[PositiveInt] = Field(
        None, description="stop after this many training iterations (counted across restarts)"
    )
    stop_timesteps: Optional[PositiveInt] = Field(
        None, description="stop once this many env steps were sampled (counted across restarts)"
    )
    stop_mean_return: Optional[float] = Field(
        None, description="stop once the mean episode return reaches this value"
    )
    stop_mean_return_episodes: PositiveInt = Field(
        DEFAULT_MEAN_RETURN_EPISODES,
        description="rl_stop_mean_return (or the env's reward threshold) is compared with the "
        "mean return of at least this many of the most recent finished episodes",
    )
    stop_evaluation_episodes: NonNegativeInt = Field(
        DEFAULT_EVALUATION_EPISODES,
        description="before stopping on the mean return, the policy as exported plays this "
        "many evaluation episodes, which must reach it too (0: trust the training episodes; "
        "RLlib's new API stack only)",
    )
    stop_seconds: Optional[PositiveFloat] = Field(
        None, description="stop after this many seconds of training in this container run"
    )
    checkpoint_frequency: NonNegativeInt = Field(
        10, description="checkpoint every N iterations (0: only at the end and on SIGTERM)"
    )
    checkpoint_keep: PositiveInt = Field(3, description="how many checkpoints to keep")
    seed: Optional[int] = Field(None, description="random seed for the toolkit")
    cluster_timeout: PositiveFloat = Field(
        300, description="multi-host jobs: seconds to wait for every host to join the cluster"
    )
    head_instance_group: Optional[str] = Field(
        None, description="heterogeneous jobs: the instance group whose first host is the head"
    )
    offline_channel: Optional[str] = Field(
        None,
        description="offline algorithms (BC, MARWIL, CQL, IQL): the channel holding the "
        "recorded dataset to train from; the env is used only for evaluation",
    )
    record_dataset: bool = Field(
        False,
        description="record every sampled transition into output/data/dataset (Parquet), "
        "for an offline job's channel",
    )
    export_onnx: Optional[bool] = Field(
        None, description="ONNX export into model/ (default: for torch policies)"
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="`rl.<section>.<setting>` overrides, keyed without `rl.`"
    )

    @field_validator("env_config", "overrides", mode="before")
    @classmethod
    def _decode_json_object(cls, value: Any) -> Any:
        # A client that sends hyperparameters unencoded leaves objects as JSON text.
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                return value  # pydantic reports "valid dictionary" with the key's name
        return value

    @property
    def has_stop_condition(self) -> bool:
        return any(
            value is not None
            for value in (
                self.stop_iterations,
                self.stop_timesteps,
                self.stop_mean_return,
                self.stop_seconds,
            )
        )

    @classmethod
    def from_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> JobConfig:
        settings: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for key, value in hyperparameters.items():
            if key.startswith(OVERRIDE_PREFIX):
                overrides[key[len(OVERRIDE_PREFIX) :]] = value
            elif key.startswith(SETTING_PREFIX):
                settings[key[len(SETTING_PREFIX) :]] = value
        if "overrides" in settings:
            raise UserError(_unknown_key_message("rl_overrides"))
        try:
            return cls(**settings, overrides=overrides)
        except ValidationError as error:
            raise UserError(_describe(error)) from None

    @classmethod
    def hyperparameter_names(cls) -> list[str]:
        return [SETTING_PREFIX + name for name in cls.model_fields if name != "overrides"]


def _unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, JobConfig.hyperparameter_names(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (
        f"unknown hyperparameter {key}{hint}; known rl_ settings: "
        f"{', '.join(JobConfig.hyperparameter_names())}"
    )


def _describe(error: ValidationError) -> str:
    """One line for the first problem pydantic found, named by its hyperparameter."""
    problem = error.errors()[0]
    field = str(problem["loc"][0]) if problem["loc"] else ""
    key = SETTING_PREFIX + field
    if problem["type"] == "extra_forbidden":
        return _unknown_key_message(key)
    value = problem.get("input")
    return f"hyperparameter {key}={value!r} is invalid: {problem['msg'].lower()}"
