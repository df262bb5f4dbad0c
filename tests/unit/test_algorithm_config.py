"""Resource defaults from the host (or cluster) and the checks that keep Ray from waiting forever."""

from __future__ import annotations

import gymnasium as gym
import pytest

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib.algorithm_config import (
    Resources,
    _set_old_stack_defaults,
    _set_zero_code_defaults,
    build,
    check_action_space,
    check_framework,
    default_config,
)


def test_cpus_become_env_runners_and_a_gpu_goes_to_the_learner():
    config = build(JobConfig(), Resources(cpus=8, gpus=1), "CartPole-v1")
    assert config.num_env_runners == 7  # one CPU stays with the driver and its learner
    assert config.num_gpus_per_learner == 1


def test_cpu_only_hosts_train_on_cpu():
    config = build(JobConfig(), Resources(cpus=2, gpus=0), "CartPole-v1")
    # One remote runner would only take turns with the learner: the driver samples itself.
    assert config.num_env_runners == 0
    assert config.num_gpus_per_learner == 0


def test_zero_code_ppo_starts_from_tuned_defaults_that_overrides_still_beat():
    config = build(JobConfig(), Resources(cpus=2, gpus=0), "CartPole-v1")
    assert (
        config.lr,
        config.num_epochs,
        config.minibatch_size,
        config.train_batch_size_per_learner,
        config.num_envs_per_env_runner,
        config.log_sys_usage,
    ) == (0.001, 10, 256, 1000, 8, False)
    job = JobConfig.from_hyperparameters(
        {
            "rl.training.lr": "0.0001",
            "rl.env_runners.num_envs_per_env_runner": "1",
            "rl.debugging.log_sys_usage": "true",
        }
    )
    config = build(job, Resources(cpus=2, gpus=0), "CartPole-v1")
    assert (config.lr, config.num_epochs, config.num_envs_per_env_runner) == (0.0001, 10, 1)
    assert config.log_sys_usage is True


def test_values_as_a_tuner_sends_them_fit_counts_rates_and_resource_amounts():
    # SageMaker's tuner sends every value as text: a whole float for an integer range's
    # neighbour, Java-style scientific notation for a logarithmic continuous range.
    job = JobConfig.from_hyperparameters(
        {
            "rl.training.num_epochs": "4.0",
            "rl.training.lr": "3.1622776601683794E-4",
            "rl.env_runners.num_cpus_per_env_runner": "0.5",
        }
    )
    config = build(job, Resources(cpus=2, gpus=0), "CartPole-v1")
    assert config.num_epochs == 4 and isinstance(config.num_epochs, int)
    assert config.lr == pytest.approx(3.1622776601683794e-4)
    assert config.num_cpus_per_env_runner == 0.5  # an amount of CPU, not a count


def test_a_fraction_for_a_count_fails_naming_the_tuners_parameter_kind():
    job = JobConfig.from_hyperparameters({"rl.training.num_epochs": "2.5"})
    with pytest.raises(UserError) as error:
        build(job, Resources(cpus=2, gpus=0), "CartPole-v1")
    assert str(error.value) == (
        "hyperparameter rl.training.num_epochs=2.5: a count must be a whole number; tune it "
        "with an IntegerParameter, not a ContinuousParameter"
    )


def test_an_n_step_range_arrives_as_a_json_list_and_becomes_rllibs_tuple():
    job = JobConfig.from_hyperparameters({"rl_algorithm": "SAC", "rl.training.n_step": "[2, 5]"})
    config = build(job, Resources(cpus=2, gpus=0), "Pendulum-v1")
    assert config.n_step == (2, 5)
    for bad in ("[5, 2]", "[2, 3, 4]", "[0, 2]", "[1.5, 3]"):
        job = JobConfig.from_hyperparameters({"rl_algorithm": "SAC", "rl.training.n_step": bad})
        with pytest.raises(UserError) as error:
            build(job, Resources(cpus=2, gpus=0), "Pendulum-v1")
        assert str(error.value).startswith(
            f"hyperparameter rl.training.n_step={bad}: a range is [low, high]"
        )


def test_zero_code_sac_starts_from_rllibs_tuned_settings_on_the_new_stack_only():
    job = JobConfig.from_hyperparameters({"rl_algorithm": "SAC", "rl.training.actor_lr": "0.001"})
    config = build(job, Resources(cpus=2, gpus=0), "Pendulum-v1")
    assert (config.actor_lr, config.critic_lr, config.n_step) == (0.001, 8e-4, (2, 5))
    assert config.num_steps_sampled_before_learning_starts == 256
    assert config.replay_buffer_config["capacity"] == 100_000
    assert config.lr is None  # RLlib refuses a global lr beside the three SAC ones
    # The TensorFlow images' old stack takes neither the n-step range nor the episode buffer.
    _, old_stack = default_config("SAC")
    old_stack.api_stack(
        enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
    )
    _set_zero_code_defaults(old_stack, {})
    assert (old_stack.n_step, old_stack.actor_lr) == (1, default_config("SAC")[1].actor_lr)


def test_other_algorithms_keep_rllib_defaults():
    from ray.rllib.algorithms.dqn import DQNConfig

    config = build(JobConfig(algorithm="DQN"), Resources(cpus=2, gpus=0), "CartPole-v1")
    assert config.lr == DQNConfig().lr


def test_explicit_choices_win_and_are_checked():
    job = JobConfig.from_hyperparameters(
        {"rl.env_runners.num_env_runners": "2", "rl.learners.num_gpus_per_learner": "0"}
    )
    config = build(job, Resources(cpus=8, gpus=1), "CartPole-v1")
    assert (config.num_env_runners, config.num_gpus_per_learner) == (2, 0)
    gpu_job = JobConfig.from_hyperparameters({"rl.learners.num_gpus_per_learner": "1"})
    with pytest.raises(UserError, match="needs 1 GPUs but 0 are available"):
        build(gpu_job, Resources(cpus=8, gpus=0), "CartPole-v1")


def test_a_return_stop_gets_an_on_demand_greedy_evaluation_runner():
    from sagemaker_rl_container.ray_rllib.evaluation import ON_DEMAND_INTERVAL

    config = build(JobConfig(), Resources(cpus=2, gpus=0), "CartPole-v1", evaluation_episodes=7)
    assert config.evaluation_interval == ON_DEMAND_INTERVAL  # never due: only when asked
    assert (config.evaluation_duration, config.evaluation_duration_unit) == (7, "episodes")
    assert config.evaluation_num_env_runners == 0  # in the driver: no CPU taken from training
    assert config.get_evaluation_config_object().explore is False  # as exported and served
    assert build(JobConfig(), Resources(cpus=2, gpus=0), "CartPole-v1").evaluation_interval is None
    # A user's rl.evaluation.* setting still wins.
    job = JobConfig.from_hyperparameters({"rl.evaluation.evaluation_interval": "5"})
    config = build(job, Resources(cpus=2, gpus=0), "CartPole-v1", evaluation_episodes=7)
    assert config.evaluation_interval == 5


@pytest.mark.parametrize(
    ("algorithm", "space", "refusal"),
    [
        ("DQN", gym.spaces.Box(-2.0, 2.0, (1,)), "rl_algorithm=DQN takes Discrete actions only"),
        ("CQL", gym.spaces.Discrete(2), "rl_algorithm=CQL takes Box actions only"),
        ("IQL", gym.spaces.Discrete(2), "rl_algorithm=IQL takes Box actions only"),
    ],
)
def test_an_algorithm_for_the_other_kind_of_actions_is_refused_naming_what_fits(
    algorithm, space, refusal
):
    with pytest.raises(UserError, match=refusal) as refused:
        check_action_space(algorithm, "MyEnv-v0", space)
    assert "MyEnv-v0's action space is" in str(refused.value)
    assert "use PPO, APPO, IMPALA or SAC" in str(refused.value)


def test_algorithms_for_either_kind_pass():
    for algorithm in ("PPO", "APPO", "IMPALA", "SAC", "BC", "MARWIL"):
        check_action_space(algorithm, "e", gym.spaces.Discrete(2))
        check_action_space(algorithm, "e", gym.spaces.Box(-1.0, 1.0, (2,)))


@pytest.mark.parametrize("algorithm", ["DreamerV3", "DQN", "BC", "MARWIL", "CQL", "IQL"])
def test_what_the_old_stack_cannot_train_is_refused_on_tensorflow(algorithm):
    with pytest.raises(UserError, match="use a ray-pytorch image"):
        check_framework(algorithm, "tf")
    check_framework(algorithm, "torch")


def test_continuous_sac_is_refused_on_tensorflow_and_discrete_sac_is_not():
    with pytest.raises(UserError, match="tensorflow-probability"):
        check_framework("SAC", "tf", gym.spaces.Box(-1.0, 1.0, (1,)))
    check_framework("SAC", "tf", gym.spaces.Discrete(2))


def test_the_old_stack_gets_a_replay_buffer_it_takes_and_no_gpu_on_a_cpu_host():
    _, config = default_config("IMPALA")
    config.api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
    assert config.num_gpus == 1  # RLlib's IMPALA default, which fails on a CPU instance
    _set_old_stack_defaults(config, Resources(cpus=2, gpus=0), {})
    assert config.num_gpus == 0
    _, config = default_config("SAC")
    config.api_stack(enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False)
    _set_old_stack_defaults(config, Resources(cpus=2, gpus=0), {})
    assert config.replay_buffer_config["type"] == "MultiAgentPrioritizedReplayBuffer"
