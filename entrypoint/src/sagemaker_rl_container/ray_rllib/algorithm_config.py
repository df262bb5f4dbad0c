"""Build and validate the RLlib `AlgorithmConfig` for a job, before Ray starts.

Order of precedence, lowest first: the algorithm's RLlib defaults (or the config a script-mode
program returns), resource defaults derived from this host, the `rl_*` settings, then the
`rl.<section>.<setting>` overrides.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import (
    evaluation,
    external,
    image_encoder,
    multi_agent,
    offline,
    overrides,
    sizing,
)

logger = logging.getLogger(__name__)

FRAMEWORK_MODULES = {"torch": "torch", "tf": "tensorflow", "tf2": "tensorflow"}

# Zero-code jobs start from these instead of RLlib's defaults, which are sized for large
# clusters (make bench compares the time to solve CartPole with both). Per section of
# AlgorithmConfig. PPO: small batches, updated often with a larger step size (the batch follows
# Stable-Baselines3's scale), and 8 copies of the env stepped together, so that the policy runs
# once per 8 env steps instead of paying per-step overhead for each env. Any
# `rl.<section>.<setting>` override still wins, and script-mode configs are left alone.
ZERO_CODE_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "PPO": {
        "training": {
            "lr": 0.001,
            "num_epochs": 10,
            "minibatch_size": 256,
            "train_batch_size_per_learner": 1000,
        },
        "env_runners": {"num_envs_per_env_runner": 8},
    },
    # RLlib's own SAC/CQL defaults fail its validation (a global `lr` beside actor_lr,
    # critic_lr and alpha_lr): unset it, as RLlib's error message asks.
    "SAC": {"training": {"lr": None}},
    "CQL": {"training": {"lr": None}},
}
# On RLlib's new API stack, zero-code SAC starts from RLlib's own tuned Pendulum-v1 example
# (rllib/tuned_examples/sac/pendulum_sac.py) rather than SAC's defaults, whose actor learns at
# 3e-5 and whose one-step returns take one update per env step: measured here on Pendulum-v1
# (make bench, bench/sac_bench.py), RLlib's defaults had not reached -200 after 400 s; these did
# in about 190 s. A range of n-step returns makes RLlib sample as many steps per update (its
# native ratio). The old stack (TensorFlow) takes neither the range nor the episode buffer.
NEW_STACK_ZERO_CODE_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "SAC": {
        "training": {
            "actor_lr": 2e-4,
            "critic_lr": 8e-4,
            "alpha_lr": 9e-4,
            "initial_alpha": 1.001,
            "n_step": (2, 5),
            "num_steps_sampled_before_learning_starts": 256,
            "replay_buffer_config": {
                "type": "PrioritizedEpisodeReplayBuffer",
                "capacity": 100_000,
                "alpha": 1.0,
                "beta": 0.0,
            },
        }
    },
}
# For every zero-code job. log_sys_usage: Tune's CPU/RAM sampling thread adds metrics no log
# shows, and stopping it delays the end of each job.
# On one host, an env runner that fails has met a bug in the environment (RLlib would restart
# it, meet the same bug again and train on nothing, exiting 0): fail with that error instead.
# Across hosts RLlib's restarts stay, for runners lost with their host (the head names it).
SINGLE_HOST_DEFAULTS: dict[str, dict[str, Any]] = {
    "fault_tolerance": {"restart_failed_env_runners": False},
}
COMMON_ZERO_CODE_DEFAULTS: dict[str, dict[str, Any]] = {
    "debugging": {"log_sys_usage": False},
}


# On-policy algorithms whose batch grows with the env runners (sizing.MIN_STEPS_PER_ENV).
SIZED_BATCH_ALGORITHMS = ("PPO", "APPO", "IMPALA")


# Algorithms that take one kind of action space only (RLlib 2.60; measured by
# tests/catalogue): RLlib's own error for the other kind names an unrelated deprecation.
ACTION_SPACE_KINDS = {"DQN": "Discrete", "CQL": "Box", "IQL": "Box"}
# Online and offline algorithms that take either kind.
FOR_EITHER_KIND = "PPO, APPO, IMPALA or SAC (offline: BC or MARWIL)"


# What RLlib 2.60's old API stack, the only one TensorFlow runs on, cannot train here
# (measured by tests/catalogue): by algorithm, or by algorithm and action-space kind.
NOT_ON_THE_OLD_STACK = {
    "DreamerV3": "needs RLlib's new API stack",
    "DQN": "fails building its replay buffer on RLlib 2.60's old API stack (RLlib tests a "
    "buffer class for a substring)",
    **{
        name: "trains from the Parquet datasets rl_record_dataset writes, which this image "
        "reads on RLlib's new API stack only"
        for name in ("BC", "MARWIL", "CQL", "IQL")
    },
}
NOT_ON_THE_OLD_STACK_FOR = {
    ("SAC", "Box"): "with continuous actions samples a squashed Gaussian, which RLlib's "
    "TensorFlow policy builds with tensorflow-probability, not in this image",
}


def check_framework(algorithm: str, framework: str | None, action_space: Any = None) -> None:
    """Refuse, before anything starts, an algorithm this image cannot run on `framework`."""
    if (framework or default_framework()) == "torch":
        return
    kind = type(action_space).__name__ if action_space is not None else None
    reason = NOT_ON_THE_OLD_STACK.get(algorithm) or NOT_ON_THE_OLD_STACK_FOR.get(
        (algorithm, kind or "")
    )
    if reason:
        raise UserError(
            f"rl_algorithm={algorithm} {reason}; this image's TensorFlow runs on RLlib's old "
            f"API stack only: use a ray-pytorch image"
        )


def check_action_space(algorithm: str, env_name: str, action_space: Any) -> None:
    """Refuse, before anything starts, an algorithm that cannot act in the env's space."""
    import gymnasium as gym

    wanted = ACTION_SPACE_KINDS.get(algorithm)
    if wanted is None:
        return
    kind = getattr(gym.spaces, wanted)
    if not isinstance(action_space, kind):
        raise UserError(
            f"rl_algorithm={algorithm} takes {wanted} actions only, and {env_name}'s action "
            f"space is {action_space}: use {FOR_EITHER_KIND} for this env"
        )


@dataclass(frozen=True)
class Resources:
    """What the Ray cluster offers the job (this host alone, or every host of the cluster)."""

    cpus: int
    gpus: int
    hosts: int = 1
    learner_slots: int = 0  # what the hosts offer of sizing.LEARNER_SLOT (cluster.py)


def algorithm_names() -> list[str]:
    from ray.rllib.algorithms.registry import ALGORITHMS

    return sorted(ALGORITHMS)


def registered_name(algorithm: str) -> str | None:
    """RLlib's spelling of `algorithm` (matched case-insensitively), None if unregistered."""
    return {name.lower(): name for name in algorithm_names()}.get(algorithm.lower())


def default_config(algorithm: str) -> tuple[str, Any]:
    """RLlib's default config for `algorithm` (matched case-insensitively) and its proper name."""
    from ray.rllib.algorithms.registry import ALGORITHMS

    name = registered_name(algorithm)
    if name is None:
        raise UserError(
            f"rl_algorithm {algorithm!r} is not an RLlib algorithm; choose one of "
            f"{', '.join(algorithm_names())}"
        )
    _, config = ALGORITHMS[name]()
    return name, config.copy(copy_frozen=False)


def algorithm_name(config: Any) -> str:
    algo_class = config.algo_class
    return getattr(algo_class, "__name__", str(algo_class))


def build(
    job: JobConfig,
    resources: Resources,
    rllib_env: Any | None,
    base: Any | None = None,
    check: bool = True,
    dataset_input: Path | None = None,
    dataset_output: Path | None = None,
    evaluation_episodes: int = 0,
    single_host: bool = True,
    observation_space: Any = None,
    policy_plan: multi_agent.PolicyPlan | None = None,
    external_spaces: tuple[Any, Any] | None = None,
) -> Any:
    """The validated AlgorithmConfig. `base` is a script-mode program's config, if any;
    `check=False` skips the resource check (a cluster's size is not known yet);
    `dataset_input`/`dataset_output`: where an offline job reads, or a job records, its data;
    `evaluation_episodes`: a zero-code job's on-demand evaluation (see evaluation.py);
    `single_host`: whether the job runs on one host (see SINGLE_HOST_DEFAULTS);
    `observation_space`: the env's, where known (image observations get a CNN);
    `policy_plan`: a multi-agent env's policies (multi_agent.py); `external_spaces`: with
    rl_external_port, the spaces the simulator plays in (external.py)."""
    if base is None:
        _, config = default_config(job.algorithm)
    else:
        config = base.copy(copy_frozen=False)
        if "algorithm" in job.model_fields_set and algorithm_name(config).lower() != (
            job.algorithm.lower()
        ):
            raise UserError(
                f"rl_algorithm={job.algorithm} contradicts the {algorithm_name(config)} config "
                f"the training script returned: drop one of them"
            )
    _set_framework(config, job.framework)
    if rllib_env is not None:
        config.environment(env=rllib_env, env_config=job.env_config)
    elif job.env_config:
        config.environment(env_config=job.env_config)
    if base is None:  # a script's own config keeps its own choices
        _set_zero_code_defaults(config, job.overrides, single_host)
        _set_resource_defaults(config, resources, job.overrides)
        evaluation.configure(config, evaluation_episodes)
    elif check:
        _size_script_config(config, resources, job.overrides)
    if job.seed is not None:
        config.debugging(seed=job.seed)
    offline.configure(config, job.overrides, dataset_input, dataset_output)
    if policy_plan is not None:
        multi_agent.configure(config, policy_plan)
    overrides.apply(
        config,
        {key: value for key, value in job.overrides.items() if key not in multi_agent.OWN_SETTINGS},
    )
    if job.external_port is not None and external_spaces is not None:
        external.check(config, job.external_port, job.overrides)
        external.configure(config, job.external_port, job.external_timeout, *external_spaces)
    if base is None and observation_space is not None:  # after the user's model_config
        image_encoder.configure(config, observation_space)
    if check:
        check_resources(config, resources)
    try:
        config.validate()
    except Exception as error:
        raise UserError(f"the RLlib configuration is invalid: {error}") from None
    return config


def default_framework() -> str:
    """torch where the image has it (RLlib's new API stack), else TensorFlow (old stack)."""
    return "torch" if importlib.util.find_spec("torch") is not None else "tf"


def _set_framework(config: Any, framework: str | None) -> None:
    framework = framework or default_framework()
    module = FRAMEWORK_MODULES.get(framework)
    if module is None:
        raise UserError(
            f"rl_framework {framework!r} is not supported; "
            f"use one of {', '.join(FRAMEWORK_MODULES)}"
        )
    if importlib.util.find_spec(module) is None:
        available = [
            name for name, mod in FRAMEWORK_MODULES.items() if importlib.util.find_spec(mod)
        ]
        raise UserError(
            f"rl_framework {framework!r} needs {module}, which this image does not have; "
            f"use rl_framework={available[0] if available else 'torch'} or an image built for "
            f"{framework}"
        )
    if framework != "torch":
        # TensorFlow runs only on RLlib's old API stack.
        config.api_stack(
            enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
        )
    config.framework(framework)


def zero_code_defaults(
    name: str, new_stack: bool, single_host: bool = True
) -> dict[str, dict[str, Any]]:
    """The settings a zero-code job of algorithm `name` starts from, by AlgorithmConfig
    method (before sizing and the user's `rl.*`): also what bench/ gives Ray's floor."""
    sections = dict(COMMON_ZERO_CODE_DEFAULTS)
    if single_host:
        sections.update(SINGLE_HOST_DEFAULTS)
    sections.update(ZERO_CODE_DEFAULTS.get(name, {}))
    if new_stack:
        for section, defaults in NEW_STACK_ZERO_CODE_DEFAULTS.get(name, {}).items():
            sections[section] = {**sections.get(section, {}), **defaults}
    return sections


def _set_zero_code_defaults(config: Any, user_overrides: dict, single_host: bool = True) -> None:
    sections = zero_code_defaults(
        algorithm_name(config), config.enable_rl_module_and_learner, single_host
    )
    for section, defaults in sections.items():
        chosen = {
            key: value
            for key, value in defaults.items()
            if f"{section}.{key}" not in user_overrides
        }
        if chosen:
            getattr(config, section)(**chosen)


def _set_old_stack_defaults(config: Any, resources: Resources, user_overrides: dict) -> None:
    """What RLlib's old API stack (the TensorFlow images) needs that its defaults, written for
    the new stack, do not give (each found by tests/catalogue)."""
    if config.enable_rl_module_and_learner:
        return
    if "resources.num_gpus" not in user_overrides:
        # IMPALA's default is one GPU for its learner, which fails on a CPU instance.
        config.resources(num_gpus=min(int(config.num_gpus or 0), resources.gpus))
    buffer = dict(getattr(config, "replay_buffer_config", None) or {})
    if "Episode" in str(buffer.get("type", "")) and "training.replay_buffer_config" not in (
        user_overrides
    ):
        # DQN's and SAC's default is the new stack's EpisodeReplayBuffer, which the old stack
        # refuses; this is the buffer RLlib's own message suggests.
        config.training(
            replay_buffer_config={
                "type": "MultiAgentPrioritizedReplayBuffer",
                "capacity": int(buffer.get("capacity", 50000)),
                "prioritized_replay_alpha": 0.6,
                "prioritized_replay_beta": 0.4,
                "prioritized_replay_eps": 1e-6,
            }
        )


def _set_resource_defaults(config: Any, resources: Resources, user_overrides: dict) -> None:
    """Size a zero-code job to this host (or cluster) by sizing.plan, unless the user chose."""
    _set_old_stack_defaults(config, resources, user_overrides)
    name = algorithm_name(config)
    batch = None
    if (
        name in SIZED_BATCH_ALGORITHMS
        and "training.train_batch_size_per_learner" not in user_overrides
    ):
        batch = int(config.train_batch_size_per_learner or config.train_batch_size)
    chosen = sizing.plan(
        resources.cpus,
        resources.gpus,
        envs_per_runner=int(config.num_envs_per_env_runner or 1),
        batch_size=batch,
        cpus_for_driver=float(config.num_cpus_for_main_process),
        cpus_per_runner=float(config.num_cpus_per_env_runner),
        hosts=resources.hosts,
        several_learners=bool(config.enable_rl_module_and_learner)
        and name in sizing.MULTI_LEARNER_ALGORITHMS,
        num_learners=_chosen(user_overrides, "learners.num_learners"),
        num_env_runners=_chosen(user_overrides, "env_runners.num_env_runners"),
    )
    if "env_runners.num_env_runners" not in user_overrides:
        config.env_runners(num_env_runners=chosen.num_env_runners)
    if chosen.train_batch_size_per_learner is not None:
        config.training(train_batch_size_per_learner=chosen.train_batch_size_per_learner)
    if resources.gpus > 0 and "learners.num_gpus_per_learner" not in user_overrides:
        config.learners(num_gpus_per_learner=chosen.num_gpus_per_learner)
    if "learners.num_learners" not in user_overrides:
        config.learners(num_learners=chosen.num_learners)
        if chosen.learners_per_host and resources.learner_slots >= chosen.num_learners:
            # One learner per slot: the hosts declare theirs when they join (cluster.py); hosts
            # of different shapes (instance groups) may offer too few, and then Ray places them.
            config.learners(custom_resources_per_learner={sizing.LEARNER_SLOT: 1})
    if (
        resources.gpus > 0
        and not config.enable_rl_module_and_learner
        and "resources.num_gpus" not in user_overrides
    ):
        config.resources(num_gpus=chosen.num_gpus)


def _chosen(user_overrides: dict, key: str) -> int | None:
    """The number the user set for `key`, if any (one that is no number fails in
    overrides.apply, with the setting's name)."""
    try:
        return int(user_overrides[key]) if key in user_overrides else None
    except (TypeError, ValueError):
        return None


def _size_script_config(config: Any, resources: Resources, user_overrides: dict) -> None:
    """A script's config that kept RLlib's default number of env runners gets as many as this
    host has CPUs for (RLlib's default of 2 does not fit a 2-vCPU instance); a number the
    script chose itself is kept, and checked."""
    if "env_runners.num_env_runners" in user_overrides:
        return
    _, default = default_config(algorithm_name(config))
    if int(config.num_env_runners) != int(default.num_env_runners):
        return
    chosen = sizing.plan(
        resources.cpus,
        resources.gpus,
        cpus_for_driver=float(config.num_cpus_for_main_process),
        cpus_per_runner=float(config.num_cpus_per_env_runner),
    )
    if chosen.num_env_runners < int(config.num_env_runners):
        logger.info(
            "The script's config keeps RLlib's default of %d env runners, more than %d CPUs "
            "allow: using %d",
            int(config.num_env_runners),
            resources.cpus,
            chosen.num_env_runners,
        )
        config.env_runners(num_env_runners=chosen.num_env_runners)


def check_resources(config: Any, resources: Resources) -> None:
    """Fail now, not by waiting forever on resources Ray will never find."""
    runners = int(config.num_env_runners) * float(config.num_cpus_per_env_runner)
    eval_runners = int(config.evaluation_num_env_runners or 0) * float(
        config.num_cpus_per_env_runner
    )
    learner_cpus = config.num_cpus_per_learner
    learner_cpus = 1.0 if learner_cpus == "auto" else float(learner_cpus)
    learners = int(config.num_learners) * learner_cpus
    needed = float(config.num_cpus_for_main_process) + runners + eval_runners + learners
    if needed > resources.cpus:
        raise UserError(
            f"the configuration needs {needed:g} CPUs ({int(config.num_env_runners)} env runners x "
            f"{float(config.num_cpus_per_env_runner):g}, {int(config.num_learners)} learners, "
            f"{float(config.num_cpus_for_main_process):g} for the driver) but only "
            f"{resources.cpus} are available: lower rl.env_runners.num_env_runners"
        )
    gpus = float(config.num_gpus_per_learner) * max(1, int(config.num_learners))
    if gpus > resources.gpus:
        raise UserError(
            f"the configuration needs {gpus:g} GPUs but {resources.gpus} are available: use a GPU "
            f"instance or set rl.learners.num_gpus_per_learner=0"
        )
