"""A zero-code job sizes itself to the instance by one rule (ray_rllib/sizing.py)."""

from __future__ import annotations

import pytest
from ray.rllib.algorithms.ppo import PPOConfig

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import sizing
from sagemaker_rl_container.ray_rllib.algorithm_config import Resources, build

SHAPES = [(cpus, gpus) for cpus in (2, 4, 8, 16, 32, 48, 72, 96) for gpus in (0, 1, 2, 4, 8)]


@pytest.mark.parametrize(("cpus", "gpus"), SHAPES)
def test_the_rule_fits_the_instance_and_keeps_every_env_stepping(cpus, gpus):
    plan = sizing.plan(cpus, gpus, envs_per_runner=8, batch_size=1000)
    # never more than the instance has
    assert 1 + plan.num_env_runners + plan.num_learners <= cpus
    assert plan.num_gpus_per_learner * max(1, plan.num_learners) <= max(gpus, 0) or gpus == 0
    # no single remote runner (it would only take turns with the learner)
    assert plan.num_env_runners != 1
    # every env of every runner steps at least MIN_STEPS_PER_ENV times an iteration
    total = plan.train_batch_size_per_learner * max(1, plan.num_learners)
    assert total >= max(1, plan.num_env_runners) * 8 * sizing.MIN_STEPS_PER_ENV
    assert total >= 1000  # never below the algorithm's own batch


def test_the_2_cpu_defaults_are_unchanged_and_a_72_cpu_instance_scales_its_batch():
    small = sizing.plan(2, 0, envs_per_runner=8, batch_size=1000)
    assert (small.num_env_runners, small.train_batch_size_per_learner) == (0, 1000)
    big = sizing.plan(72, 0, envs_per_runner=8, batch_size=1000)
    assert (big.num_env_runners, big.train_batch_size_per_learner) == (71, 71 * 8 * 32)
    gpus = sizing.plan(72, 8, envs_per_runner=8, batch_size=1000)
    assert (gpus.num_learners, gpus.num_gpus_per_learner, gpus.num_env_runners) == (8, 1, 63)
    assert gpus.train_batch_size_per_learner == 63 * 8 * 32 // 8


def test_zero_code_ppo_takes_the_plan_and_overrides_still_win():
    config = build(JobConfig(), Resources(cpus=72, gpus=4), "CartPole-v1", check=False)
    assert (config.num_env_runners, config.num_learners, config.num_gpus_per_learner) == (67, 4, 1)
    assert config.train_batch_size_per_learner == -(-(67 * 8 * 32) // 4)
    job = JobConfig.from_hyperparameters(
        {"rl.training.train_batch_size_per_learner": "4000", "rl.env_runners.num_env_runners": "8"}
    )
    config = build(job, Resources(cpus=72, gpus=0), "CartPole-v1")
    assert (config.num_env_runners, config.train_batch_size_per_learner) == (8, 4000)


def test_a_script_config_with_rllibs_default_runners_fits_a_2_cpu_instance():
    config = build(
        JobConfig(), Resources(cpus=2, gpus=0), None, base=PPOConfig().environment("CartPole-v1")
    )
    assert config.num_env_runners == 0
    # a number the script chose is kept and checked, as before
    chosen = PPOConfig().environment("CartPole-v1").env_runners(num_env_runners=3)
    with pytest.raises(UserError, match="the configuration needs 4 CPUs"):
        build(JobConfig(), Resources(cpus=2, gpus=0), None, base=chosen)


def test_the_docs_table_shows_the_plans():
    text = sizing.table((2, 72), (0, 8), envs_per_runner=8, batch=1000)
    assert "| 72 | 8 | 63 | 8 | 32 | 8 | 1 | 2016 | 16128 |" in text
    assert "| 2 | 0 | 0 | 8 | 125 | 1 (in the driver) | 0 | 1000 | 1000 |" in text
