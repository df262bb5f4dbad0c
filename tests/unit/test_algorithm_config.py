"""Resource defaults from the host (or cluster) and the checks that keep Ray from waiting forever."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib.algorithm_config import Resources, build


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
