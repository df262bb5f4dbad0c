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
    # no single remote runner beside a learner in the driver (they would only take turns)
    assert plan.num_env_runners != 1 or plan.num_learners > 1
    # every env of every runner steps at least MIN_STEPS_PER_ENV times an iteration
    total = plan.train_batch_size_per_learner * max(1, plan.num_learners)
    assert total >= max(1, plan.num_env_runners) * 8 * sizing.MIN_STEPS_PER_ENV
    assert total >= 1000  # never below the algorithm's own batch


def test_the_2_cpu_defaults_are_unchanged_and_a_72_cpu_instance_scales_its_batch():
    small = sizing.plan(2, 0, envs_per_runner=8, batch_size=1000)
    assert (small.num_env_runners, small.train_batch_size_per_learner) == (0, 1000)
    big = sizing.plan(72, 0, envs_per_runner=8, batch_size=1000)
    # 9 learners (one per 8 vCPUs), the other 62 vCPUs sample
    assert (big.num_env_runners, big.num_learners) == (62, 9)
    assert big.train_batch_size_per_learner == -(-(62 * 8 * 32) // 9)
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


HOSTS = [(hosts, cpus) for hosts in (2, 3, 4, 8, 16) for cpus in (2, 4, 8, 16, 36, 72, 96)]


@pytest.mark.parametrize(("hosts", "cpus"), HOSTS)
def test_a_cpu_cluster_gets_the_same_learners_on_every_host(hosts, cpus):
    plan = sizing.plan(hosts * cpus, 0, envs_per_runner=8, batch_size=1000, hosts=hosts)
    per_host = max(1, cpus // sizing.CPUS_PER_LEARNER)
    assert (plan.num_learners, plan.learners_per_host) == (hosts * per_host, per_host)
    # the hosts' slots (cluster.learner_slots) are the ones the plan takes
    assert sizing.learners_for(hosts * cpus, 0, hosts) == plan.num_learners
    assert 1 + plan.num_env_runners + plan.num_learners <= hosts * cpus
    # each learner keeps at least the algorithm's batch: more hosts, more data per iteration
    assert plan.train_batch_size_per_learner >= 1000


def test_one_host_keeps_its_learner_in_the_driver_until_a_second_one_pays_off():
    for cpus in range(2, 2 * sizing.CPUS_PER_LEARNER):
        assert sizing.plan(cpus, 0, envs_per_runner=8, batch_size=1000).num_learners == 0
    big = sizing.plan(16, 0, envs_per_runner=8, batch_size=1000)
    assert (big.num_learners, big.num_env_runners, big.learners_per_host) == (2, 13, 0)
    # TensorFlow's old API stack and algorithms that train on one learner keep it in the driver
    assert sizing.plan(64, 0, hosts=4, several_learners=False).num_learners == 0


def test_zero_code_jobs_take_the_learners_and_a_users_number_wins():
    cluster = Resources(cpus=32, gpus=0, hosts=2, learner_slots=4)
    config = build(JobConfig(), cluster, "CartPole-v1", check=False)
    assert (config.num_learners, config.num_env_runners) == (4, 27)
    assert config.custom_resources_per_learner == {sizing.LEARNER_SLOT: 1}
    # hosts that offer too few slots (instance groups of other shapes): Ray places them
    fewer = Resources(cpus=32, gpus=0, hosts=2, learner_slots=2)
    assert build(JobConfig(), fewer, "CartPole-v1", check=False).custom_resources_per_learner == {}
    assert config.train_batch_size_per_learner == -(-(27 * 8 * 32) // 4)
    sac = build(JobConfig(algorithm="SAC"), cluster, "Pendulum-v1", check=False)
    assert sac.num_learners == 4
    job = JobConfig.from_hyperparameters({"rl.learners.num_learners": "0"})
    config = build(job, cluster, "CartPole-v1", check=False)
    assert (config.num_learners, config.custom_resources_per_learner) == (0, {})
    assert config.num_env_runners == 31
    # the user's env runners first: learners take what they leave, if it is enough for two
    job = JobConfig.from_hyperparameters({"rl.env_runners.num_env_runners": "2"})
    small = Resources(cpus=4, gpus=0, hosts=2)
    assert build(job, small, "CartPole-v1").num_learners == 0
    job = JobConfig.from_hyperparameters({"rl.env_runners.num_env_runners": "0"})
    assert build(job, small, "CartPole-v1").num_learners == 2


def test_the_docs_table_shows_the_plans():
    text = sizing.table(((1, 72, 8), (1, 2, 0), (8, 16, 0)), envs_per_runner=8, batch=1000)
    assert "| 1 | 72 | 8 | 63 | 8 | 32 | 8 | 1 | 2016 | 16128 |" in text
    assert "| 1 | 2 | 0 | 0 | 8 | 125 | 1 (in the driver) | 0 | 1000 | 1000 |" in text
    assert "| 8 | 16 | 0 | 111 | 8 | 32 | 16 (2 per host) | 0 | 1776 | 28416 |" in text
