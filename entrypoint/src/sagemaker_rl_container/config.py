"""The job's settings, parsed and validated from hyperparameters before anything starts.

Two families of keys are ours:
- `rl_<name>`: the settings in `JobConfig` below (algorithm, env, stop conditions, checkpoints).
- `rl.<section>.<setting>`: a dotted override of the toolkit's own configuration, e.g.
  `rl.training.lr=0.0003` calls `AlgorithmConfig.training(lr=0.0003)`; the toolkit launcher
  validates those against its config object.
Anything else is the user's own (their script or environment may read it) and is left alone.
Values arrive as strings, JSON-encoded, in Python's literal syntax or plain: `decode_value`
reads them all, and pydantic checks the result against each setting's type.

Annotations are `Optional[...]`, not `X | None`: pydantic evaluates them at runtime, and the Coach
images run Python 3.9.
"""

from __future__ import annotations

import ast
import difflib
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
)

from sagemaker_rl_container.errors import UserError, shown

logger = logging.getLogger(__name__)

SETTING_PREFIX = "rl_"
OVERRIDE_PREFIX = "rl."
# What `rl_stop_mean_return_episodes` and `rl_stop_evaluation_episodes` default to.
DEFAULT_MEAN_RETURN_EPISODES = 10
DEFAULT_EVALUATION_EPISODES = 10
# SageMaker gives a spot job 120 s between SIGTERM and SIGKILL; checkpointing as often bounds
# what an interruption that cannot wait for the current iteration loses.
DEFAULT_CHECKPOINT_SECONDS = 120.0


class JobConfig(BaseModel):
    """Zero-code job settings: the `rl_*` hyperparameters, with their defaults."""

    # NaN or Infinity as a stop target or timeout would never be reached: refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    algorithm: str = Field(
        "PPO",
        description="any RLlib algorithm, case-insensitive: APPO, BC, CQL, DQN, DreamerV3, "
        "IMPALA, IQL, MARWIL, PPO, SAC",
    )
    env: str = Field(
        "CartPole-v1",
        description="a gymnasium id, or `module:Class` / `module:factory` from the source "
        "directory or an installed package; an RLlib MultiAgentEnv or a PettingZoo env is "
        "multi-agent (a PettingZoo module alone, e.g. `my_game`, builds `my_game.parallel_env`)",
    )
    env_config: dict[str, Any] = Field(
        default_factory=dict,
        description="object passed to the environment: `gymnasium.make(id, **config)`, "
        "or `Class(config)`",
    )
    frame_stack: PositiveInt = Field(
        1,
        description="stack each observation with the N-1 before it (images along their "
        "channels, vectors end to end), for an env whose one observation does not show motion; "
        "the exported policy then takes stacked observations",
    )
    external_port: Optional[int] = Field(
        None,
        ge=1024,
        le=65535,
        description="a simulator outside the job connects to this TCP port (every interface) "
        "and plays there, speaking RLlib's RLlink protocol: the job trains on its episodes "
        "and takes rl_env only for its spaces (PyTorch images)",
    )
    external_timeout: PositiveFloat = Field(
        300,
        description="with rl_external_port: seconds the job waits for the simulator to connect "
        "or, once connected, to send its next episodes; then it fails in one line",
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
        None,
        description="stop once the mean return of the most recent training episodes "
        "(rl_stop_mean_return_episodes) reaches this, and the policy as exported reaches it "
        "too in evaluation (rl_stop_evaluation_episodes)",
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
    checkpoint_seconds: Optional[PositiveFloat] = Field(
        DEFAULT_CHECKPOINT_SECONDS,
        description="also checkpoint once this many seconds of training passed since the last "
        "checkpoint, so a spot interruption loses at most that much (none: only by iteration)",
    )
    seed: Optional[int] = Field(None, description="RLlib's `debugging(seed=...)`")
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
        None,
        description="export the policy as ONNX into model/; default: torch policies, and "
        "TensorFlow ones with discrete actions (via tf2onnx); false keeps only the checkpoint "
        "(and the SavedModel)",
    )
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="`rl.<section>.<setting>` overrides, keyed without `rl.`"
    )
    tune_space: dict[str, Any] = Field(
        default_factory=dict,
        description="a Ray Tune sweep inside the job: a JSON object of `rl.<section>.<setting>` "
        'keys to values to try, each a list or {"choice": [...]} (drawn from), {"grid": [...]} '
        '(each value, under any search), {"uniform"|"loguniform": [low, high]} or '
        '{"randint": [low, high]} (high included); the best trial is exported',
    )
    tune_search: Optional[Literal["grid", "random", "pbt"]] = Field(
        None,
        description="with rl_tune_space: grid (every combination of the lists), random (each "
        "trial draws from the space) or pbt (Population Based Training: trials start from "
        "draws; every rl_tune_perturbation_interval iterations the worst quarter copies the "
        "weights of the best quarter and mutates its settings); default: random",
    )
    tune_samples: Optional[PositiveInt] = Field(
        None,
        description="with rl_tune_space: trials to run (random and pbt; default 4), or times "
        'to repeat the grid (grid, or {"grid": [...]} values; default 1 for grid search)',
    )
    tune_perturbation_interval: PositiveInt = Field(
        5, description="rl_tune_search=pbt: iterations between exploit/explore steps"
    )
    tune_metric: str = Field(
        "episode_return_mean",
        description="with rl_tune_space: what ranks trials, episode_return_mean or any RLlib "
        "result key as a path (env_runners/episode_len_mean)",
    )
    tune_mode: Literal["max", "min"] = Field(
        "max", description="with rl_tune_space: whether the best trial has the largest metric"
    )

    @property
    def is_sweep(self) -> bool:
        return bool(self.tune_space)

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
                overrides[key[len(OVERRIDE_PREFIX) :]] = decode_value(value)
            elif key.startswith(SETTING_PREFIX):
                settings[key[len(SETTING_PREFIX) :]] = decode_value(value)
        if "overrides" in settings:
            raise UserError(_unknown_key_message("rl_overrides"))
        try:
            job = cls(**settings, overrides=overrides)
        except ValidationError as error:
            raise UserError(validation_error_line(error, unknown=_unknown_key_message)) from None
        sweep_only = [
            name
            for name in ("tune_search", "tune_samples", "tune_perturbation_interval")
            if name in job.model_fields_set
        ]
        if sweep_only and not job.tune_space:
            raise UserError(
                f"hyperparameter rl_{sweep_only[0]} sets up a sweep: give rl_tune_space too, "
                f'e.g. {{"rl.training.lr": {{"loguniform": [0.0001, 0.01]}}}}'
            )
        return job

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


def decode_value(value: Any) -> Any:
    """A hyperparameter value as the client meant it.

    SageMaker hands every value over as a string. The SDK's `RLEstimator` JSON-encodes them
    (`0.9`, `true`, `{"items": 20}`: sagemaker-training has already decoded those); a plain
    `Estimator` sends Python's `str()` (`True`, `None`, `{'items': 20}`); boto3 or the console
    send what was typed. A string is read as JSON, else as a Python literal; one that is
    neither (`PPO`, `CartPole-v1`, `corridor:Corridor`) stays the string it is.
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        decoded = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return value
    if isinstance(decoded, tuple):
        return list(decoded)
    if isinstance(decoded, (set, frozenset, bytes, complex)):
        return value  # no JSON counterpart: left for the setting's own check to refuse
    return decoded


def whole_number(value: Any) -> int:
    """`value` for a setting that counts something: 5 and 5.0 are 5. A fraction raises
    ValueError: SageMaker's tuner sends one for a ContinuousParameter over such a setting, and
    truncating it (or handing it on) would train something other than the trial asked for."""
    if isinstance(value, str):  # text that did not decode as a number, e.g. "05"
        try:
            value = float(value)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("expected a whole number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(
            "a count must be a whole number; tune it with an IntegerParameter, not a "
            "ContinuousParameter"
        )
    return int(value)


def setting_key(field: str) -> str:
    """The hyperparameter of a JobConfig field: `rl_<field>`."""
    return SETTING_PREFIX + field


@dataclass(frozen=True)
class Setting:
    """One hyperparameter as the CLI and the generated reference list it."""

    key: str
    default: str
    description: str


def settings_of(
    model: type[BaseModel], key_of: Callable[[str], str] = setting_key
) -> list[Setting]:
    """The hyperparameters a config model reads, from its fields (so the lists cannot drift)."""
    listed = []
    for name, field in model.model_fields.items():
        if name == "overrides":
            continue
        if field.is_required():
            default = "required"
        else:
            value = field.get_default(call_default_factory=True)
            default = "none" if value is None else json.dumps(value)
        listed.append(Setting(key_of(name), default, field.description or ""))
    return listed


# The `rl.` family, listed after the `rl_` settings.
OVERRIDE_SETTING = Setting(
    "rl.<section>.<setting>",
    "RLlib's",
    "any AlgorithmConfig builder setting: rl.training.lr=0.0003 calls "
    "config.training(lr=0.0003); sections: training, env_runners, environment, learners, "
    "evaluation, rl_module, offline_data, reporting, debugging, fault_tolerance, multi_agent, "
    "checkpointing, resources, framework, api_stack",
)
# A multi-agent env's policies (ray_rllib/multi_agent.py), read by the image rather than passed
# to config.multi_agent() as they are: RLlib's own form is a function.
MULTI_AGENT_SETTINGS = (
    Setting(
        "rl.multi_agent.policy_mapping",
        "by spaces",
        'multi-agent envs: {"agent_id": "policy", ...}, agent ids or fnmatch patterns '
        '("red_*"; an id wins over a pattern), every agent mapped; agents mapped to one policy '
        "share it and must share spaces. Unset: agents with the same spaces share one policy "
        '("shared" when all do), each other group gets its own, named for its agents',
    ),
    Setting(
        "rl.multi_agent.policies_to_train",
        "every policy",
        'multi-agent envs: the policies that learn, e.g. ["red"]; the others act with their '
        "initial weights",
    ),
)
RAY_OVERRIDE_SETTINGS = (OVERRIDE_SETTING, *MULTI_AGENT_SETTINGS)


def validation_error_line(
    error: ValidationError,
    key_of: Callable[[str], str] = setting_key,
    unknown: Callable[[str], str] | None = None,
) -> str:
    """One line for the first problem pydantic found, named by its hyperparameter."""
    problem = error.errors()[0]
    key = key_of(str(problem["loc"][0]) if problem["loc"] else "")
    if problem["type"] == "extra_forbidden" and unknown is not None:
        return unknown(key)
    return (
        f"hyperparameter {key}={shown(problem.get('input'))} is invalid: {problem['msg'].lower()}"
    )


def log_unused_hyperparameters(
    hyperparameters: Mapping[str, Any], user_code: str, also_known: Iterable[str] = ()
) -> None:
    """Keys that are neither `rl_*` nor `rl.*` reach the user's own code only: say so, so a
    misspelt setting is visible in the log."""
    known = set(also_known)
    ignored = sorted(
        key
        for key in hyperparameters
        if not key.startswith((SETTING_PREFIX, OVERRIDE_PREFIX)) and key not in known
    )
    if ignored:
        logger.info("Hyperparameters not used by the launcher (left to %s): %s", user_code, ignored)
