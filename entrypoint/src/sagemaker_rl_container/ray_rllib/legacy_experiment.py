"""Ray 1.x experiment dicts, as the old `sagemaker_rl` launchers' `get_experiment_config()`
returns them, in the current RLlib API:

    {"training": {"run": "PPO", "env": "CartPole-v1", "stop": {"training_iteration": 10},
                  "checkpoint_freq": 5, "config": {"num_workers": 3, "sgd_minibatch_size": 64}}}

becomes an RLlib `AlgorithmConfig` plus the job's own settings (stop conditions, checkpoint
frequency). Every key is translated by the tables below (docs/migration.md shows them) or
refused in one line that names it and, where there is one, its current name: RLlib itself
would silently keep a misspelt or retired key as an attribute that nothing reads.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import logging
from collections.abc import Mapping
from typing import Any

from sagemaker_rl_container.config import decode_value
from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

# Ray 1.x config key -> its RLlib 2.x name (the value means the same).
RENAMED: dict[str, str] = {
    "num_workers": "num_env_runners",
    "num_envs_per_worker": "num_envs_per_env_runner",
    "num_cpus_per_worker": "num_cpus_per_env_runner",
    "num_gpus_per_worker": "num_gpus_per_env_runner",
    "num_cpus_for_driver": "num_cpus_for_main_process",
    "sgd_minibatch_size": "minibatch_size",
    "num_sgd_iter": "num_epochs",
    "ignore_worker_failures": "ignore_env_runner_failures",
    "recreate_failed_workers": "restart_failed_env_runners",
    "evaluation_num_workers": "evaluation_num_env_runners",
    "timesteps_per_iteration": "min_sample_timesteps_per_iteration",
    "min_iter_time_s": "min_time_s_per_iteration",
    "metrics_smoothing_episodes": "metrics_num_episodes_for_smoothing",
    "collect_metrics_timeout": "metrics_episode_collection_timeout_s",
    "learning_starts": "num_steps_sampled_before_learning_starts",
    "create_env_on_driver": "create_env_on_local_worker",
    "lambda": "lambda_",
    "input": "input_",
    "callbacks": "callbacks_class",
}

# Ray 1.x keys whose meaning RLlib 2.x moved elsewhere (translated by `_special`).
MOVED: dict[str, str] = {
    "use_pytorch": "framework: torch when true (false was Ray 1.x's default: no choice)",
    "framework": "the image's framework (rl_framework); `tfe` is `tf2`",
    "eager": "framework tf2 when true",
    "num_gpus": "new API stack: num_gpus_per_learner (one learner per GPU); old stack: num_gpus",
    "model": "new API stack: rl_module(model_config=...), same keys; old stack: model",
    "vf_share_layers": "model's vf_share_layers",
    "buffer_size": "replay_buffer_config's capacity",
    "evaluation_num_episodes": "evaluation_duration, in episodes",
}

# Ray 1.x keys with no current meaning -> (the Ray 1.x default, what to do instead). The
# default itself asks for nothing and is dropped; any other value fails the job.
RETIRED: dict[str, tuple[Any, str]] = {
    "monitor": (False, "RLlib 2.x writes no gym Monitor files; returns are in the job's metrics"),
    "horizon": (None, "limit the episode length in the env (gymnasium's TimeLimit)"),
    "soft_horizon": (False, "limit the episode length in the env (gymnasium's TimeLimit)"),
    "no_done_at_end": (False, "return truncated instead of terminated from the env's step"),
    "sample_async": (False, "RLlib 2.x samples synchronously; use APPO or IMPALA for async"),
    "simple_optimizer": (False, "RLlib 2.x chooses its optimizer path itself"),
    "log_sys_usage": (True, "Ray's dashboard shows system usage"),
    "custom_resources_per_worker": ({}, "RLlib 2.x: custom_resources_per_env_runner"),
}

# Tune's experiment keys (beside "config" and "stop") -> what the job does with them.
EXPERIMENT_KEYS: dict[str, str] = {
    "run": "the algorithm (rl_algorithm)",
    "env": "the environment",
    "checkpoint_freq": "rl_checkpoint_frequency",
    "keep_checkpoints_num": "rl_checkpoint_keep",
    "checkpoint_at_end": "always: the final checkpoint is kept",
    "local_dir": "ignored: checkpoints go to /opt/ml/checkpoints, output to /opt/ml/output",
    "max_failures": "ignored: a failed job is restarted by SageMaker (managed spot), not Tune",
    "name": "ignored: the job's name is the training job's",
}

# Tune experiment keys that mean nothing for one SageMaker job -> what to do instead.
RETIRED_EXPERIMENT_KEYS: dict[str, str] = {
    "restore": "give the checkpoint to start from as a `checkpoint` input channel",
    "num_samples": "a job trains one trial: use a SageMaker hyperparameter tuning job",
    "resources_per_trial": "resources come from the instance (see docs/hyperparameters.md)",
    "config_space": "use a SageMaker hyperparameter tuning job",
}

# Ray 1.x `stop` keys -> the job's rl_stop_* setting.
STOP_KEYS: dict[str, str] = {
    "training_iteration": "stop_iterations",
    "timesteps_total": "stop_timesteps",
    "episode_reward_mean": "stop_mean_return",
    "time_total_s": "stop_seconds",
}

# A legacy `rl.<experiment>.<part>...` hyperparameter adjusts these parts of the experiment;
# any other `rl.` key is an rl.<section>.<setting> override of the AlgorithmConfig.
EXPERIMENT_PARTS = ("config", "stop", *EXPERIMENT_KEYS)

REMOVED_ALGORITHMS: dict[str, str] = {
    "A2C": "PPO",
    "A3C": "APPO",
    "APEX": "APPO",
    "APEX_DQN": "DQN",
    "DDPG": "SAC",
    "TD3": "SAC",
    "ES": "PPO",
    "ARS": "PPO",
    "PG": "PPO",
}


@dataclasses.dataclass
class Translated:
    config: Any  # ray.rllib AlgorithmConfig
    # rl_* job settings without the prefix (stop_iterations, checkpoint_frequency, ...).
    settings: dict[str, Any]


def split_hyperparameters(
    hyperparameters: Mapping[str, Any], experiment: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The legacy `rl.<experiment>.(config|stop|...)` keys, and every other hyperparameter."""
    legacy, rest = {}, {}
    names = set(experiment)
    for key, value in hyperparameters.items():
        parts = key.split(".")
        if (
            len(parts) >= 3
            and parts[0] == "rl"
            and parts[1] in names
            and (parts[2] in EXPERIMENT_PARTS)
        ):
            legacy[key] = value
        else:
            rest[key] = value
    return legacy, rest


def apply_hyperparameters(experiments: dict[str, Any], legacy: Mapping[str, Any]) -> dict[str, Any]:
    """`rl.training.config.lr=0.001` sets experiments["training"]["config"]["lr"], as the old
    launcher's `customize_experiment_config` did; values decode like every rl_ value."""
    experiments = copy.deepcopy(experiments)
    for key, value in legacy.items():
        *path, last = key.split(".")[1:]
        node = experiments
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise UserError(f"hyperparameter {key}: {part} is not a dict in the experiment")
        node[last] = decode_value(value)
        logger.info(
            "Experiment setting %s = %r (from hyperparameter %s)",
            ".".join([*path, last]),
            node[last],
            key,
        )
    return experiments


def translate(experiments: Mapping[str, Any]) -> Translated:
    if not isinstance(experiments, Mapping) or not experiments:
        raise UserError(
            "get_experiment_config() must return a Tune experiment dict such as "
            '{"training": {"run": "PPO", "env": ..., "config": {...}}}'
        )
    if len(experiments) != 1:
        raise UserError(
            f"get_experiment_config() returned {len(experiments)} experiments "
            f"({', '.join(map(str, experiments))}); a job trains one: return one"
        )
    name, experiment = next(iter(experiments.items()))
    if not isinstance(experiment, Mapping):
        raise UserError(f"experiment {name!r} is not a dict")
    settings: dict[str, Any] = {}
    for key in experiment:
        if key not in (*EXPERIMENT_KEYS, "config", "stop"):
            if key == "num_samples" and experiment[key] in (1, None):
                continue
            if key in RETIRED_EXPERIMENT_KEYS:
                raise UserError(
                    f"experiment key {key!r} has no meaning here: {RETIRED_EXPERIMENT_KEYS[key]}"
                )
            raise UserError(
                f"experiment key {key!r} has no meaning here ({_hint(key, EXPERIMENT_KEYS)}"
                f"known: run, env, config, stop, {', '.join(list(EXPERIMENT_KEYS)[2:])})"
            )
    if "checkpoint_freq" in experiment:
        settings["checkpoint_frequency"] = int(experiment["checkpoint_freq"])
    if "keep_checkpoints_num" in experiment and experiment["keep_checkpoints_num"] is not None:
        settings["checkpoint_keep"] = int(experiment["keep_checkpoints_num"])
    for key, value in dict(experiment.get("stop") or {}).items():
        if key not in STOP_KEYS:
            raise UserError(
                f"stop condition {key!r} is not supported ({_hint(key, STOP_KEYS)}supported: "
                f"{', '.join(STOP_KEYS)})"
            )
        settings[STOP_KEYS[key]] = value
    old = dict(experiment.get("config") or {})
    env = experiment.get("env", old.pop("env", None))
    config = _algorithm_config(experiment.get("run"))
    new, framework = _translate_keys(old, config)
    if framework:
        settings["framework"] = framework
    from sagemaker_rl_container.ray_rllib.algorithm_config import default_framework

    if (framework or default_framework()) != "torch":
        config.api_stack(
            enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
        )
    _apply(config, new)
    if env is not None:
        config.environment(env=env)
    return Translated(config, settings)


def _algorithm_config(run: Any) -> Any:
    from sagemaker_rl_container.ray_rllib.algorithm_config import default_config

    if run is None:
        raise UserError('the experiment names no algorithm: add "run": "PPO" (or another)')
    if not isinstance(run, str):
        config = run.get_default_config()
        return config.copy(copy_frozen=False) if hasattr(config, "copy") else config
    name = run.upper() if run.upper() in REMOVED_ALGORITHMS else run
    if name in REMOVED_ALGORITHMS:
        raise UserError(
            f'"run": {run!r}: RLlib 2.x no longer has {run}; the closest it has is '
            f"{REMOVED_ALGORITHMS[name]}"
        )
    try:
        _, config = default_config(run)
    except UserError as error:
        raise UserError(f'"run": {error}') from None
    return config


def _translate_keys(old: Mapping[str, Any], config: Any) -> tuple[dict[str, Any], str | None]:
    """Ray 1.x config keys -> {current key: value}, and the framework they ask for."""
    framework: str | None = None
    new: dict[str, Any] = {}
    for key, value in old.items():
        if key in RETIRED:
            default, instead = RETIRED[key]
            if value == default or (default is None and not value):
                logger.info("Ray 1.x setting %s=%r dropped: %s", key, value, instead)
                continue
            raise UserError(
                f"config key {key!r} (={value!r}) has no meaning in RLlib 2.x: {instead}"
            )
        if key == "use_pytorch":
            framework = "torch" if value else framework
        elif key == "framework":
            framework = {"tfe": "tf2"}.get(value, value)
        elif key == "eager":
            framework = "tf2" if value else framework
        elif key == "vf_share_layers":
            new.setdefault("model", {})["vf_share_layers"] = value
        elif key == "buffer_size":
            new.setdefault("replay_buffer_config", dict(config.replay_buffer_config))
            new["replay_buffer_config"]["capacity"] = value
        elif key == "evaluation_num_episodes":
            new["evaluation_duration"] = value
            new["evaluation_duration_unit"] = "episodes"
        elif key == "model":
            new.setdefault("model", {}).update(value or {})
        else:
            current = RENAMED.get(key, key)
            if current != key:
                logger.info("Ray 1.x setting %s is RLlib's %s now", key, current)
            new[current] = value
    return new, framework


def _apply(config: Any, new: dict[str, Any]) -> None:
    new_stack = framework_is_new_stack(config)
    num_gpus = new.pop("num_gpus", None)
    if num_gpus:
        if new_stack:
            config.learners(
                num_learners=int(num_gpus) if num_gpus > 1 else 0, num_gpus_per_learner=1
            )
        else:
            config.resources(num_gpus=num_gpus)
    model = new.pop("model", None)
    if model:
        if model.get("custom_model"):
            raise UserError(
                "config key 'model': custom_model (a ModelV2) is not supported; write an RLModule "
                "and return it through get_algorithm_config() (see docs/migration.md)"
            )
        if new_stack:
            _check_model_keys(model)
            config.rl_module(model_config={**(config.model_config or {}), **model})
        else:
            config.training(model=model)
    for key in new:
        attribute = {"lambda": "lambda_", "input": "input_", "callbacks": "callbacks_class"}.get(
            key, key
        )
        if not hasattr(config, attribute):
            known = [n for n in vars(config) if not n.startswith("_")]
            close = difflib.get_close_matches(attribute, [*RENAMED, *RETIRED, *known], n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UserError(f"config key {key!r} is not an RLlib setting{hint}")
    if new:
        config.update_from_dict(new)


def framework_is_new_stack(config: Any) -> bool:
    return bool(getattr(config, "enable_rl_module_and_learner", False))


def _check_model_keys(model: Mapping[str, Any]) -> None:
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig

    fields = {f.name for f in dataclasses.fields(DefaultModelConfig)}
    for key in model:
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise UserError(
                f"model key {key!r} has no meaning in RLlib 2.x's default models{hint} (see "
                f"ray.rllib.core.rl_module.default_model_config.DefaultModelConfig)"
            )


def _hint(key: str, known: Mapping[str, str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1)
    return f"did you mean {close[0]}? " if close else ""


def table() -> list[tuple[str, str]]:
    """Every translated Ray 1.x key and what it became, for docs/migration.md."""
    rows = [(f"`{old}`", f"`{new}`") for old, new in RENAMED.items()]
    rows += [(f"`{old}`", text) for old, text in MOVED.items()]
    rows += [
        (f"`{old}`", f"refused unless {default!r}: {text}")
        for old, (default, text) in RETIRED.items()
    ]
    rows += [(f'`"{key}"` (experiment)', text) for key, text in EXPERIMENT_KEYS.items()]
    rows += [
        (f'`"{key}"` (experiment)', f"refused: {text}")
        for key, text in RETIRED_EXPERIMENT_KEYS.items()
    ]
    rows += [(f'`"stop": {{"{key}"}}`', f"`rl_{new}`") for key, new in STOP_KEYS.items()]
    rows += [
        (f'`"run": "{old}"`', f"refused: use {new}") for old, new in REMOVED_ALGORITHMS.items()
    ]
    return rows
