"""rl_tune_space parsed and placed in an RLlib config; the trials' share of the cluster."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import sizing
from sagemaker_rl_container.ray_rllib.search_space import Space


def job(**settings) -> JobConfig:
    return JobConfig.from_hyperparameters({f"rl_{k}": v for k, v in settings.items()})


def ppo_config():
    from ray.rllib.algorithms.ppo import PPOConfig

    return PPOConfig().environment("CartPole-v1")


def test_trials_count_grid_points_times_samples_and_draws_otherwise():
    space = '{"rl.training.lr": [0.001, 0.01], "rl.training.num_epochs": [1, 2, 3]}'
    assert Space.parse(job(tune_space=space, tune_search="grid")).trials == 6
    assert Space.parse(job(tune_space=space, tune_search="grid", tune_samples=2)).trials == 12
    assert Space.parse(job(tune_space=space)).trials == 4  # random, default samples
    assert Space.parse(job(tune_space=space, tune_search="pbt", tune_samples=8)).trials == 8
    # {"grid": [...]} enumerates under any search: a population started from exactly those
    grid = '{"rl.training.lr": {"grid": [0.001, 0.01]}, "rl.training.num_epochs": [1, 2]}'
    assert Space.parse(job(tune_space=grid, tune_search="pbt")).trials == 2 * 4
    assert Space.parse(job(tune_space=grid, tune_search="pbt", tune_samples=2)).trials == 4


def test_domains_land_on_the_config_dict_keys_with_values_as_set():
    from ray import tune

    space = Space.parse(
        job(
            tune_space='{"rl.training.lr": {"loguniform": [0.0001, 0.01]}, '
            '"rl.training.lambda_": [0.9, 0.95], "rl.training.num_epochs": {"randint": [2, 4]}}'
        )
    )
    param_space, keys = space.param_space(ppo_config())
    assert keys == {
        "rl.training.lr": "lr",
        "rl.training.lambda_": "lambda",
        "rl.training.num_epochs": "num_epochs",
    }
    assert isinstance(param_space["lr"], tune.search.sample.Float)
    assert param_space["lambda"].categories == [0.9, 0.95]
    # randint's high is included (Tune's is not)
    assert (param_space["num_epochs"].lower, param_space["num_epochs"].upper) == (2, 5)
    assert param_space["env"] == "CartPole-v1"  # the rest is the trial's config as built


def test_pbt_mutations_are_lists_for_choices_and_grids_and_domains_for_ranges():
    space = Space.parse(
        job(
            tune_space='{"rl.training.lr": {"uniform": [0.001, 0.01]}, '
            '"rl.training.num_epochs": [2, 4], "rl.training.gamma": {"grid": [0.9, 0.99]}}',
            tune_search="pbt",
        )
    )
    param_space, keys = space.param_space(ppo_config())
    assert param_space["gamma"] == {"grid_search": [0.9, 0.99]}
    mutations = space.mutations(param_space, keys)
    assert mutations["num_epochs"] == [2, 4]
    assert mutations["gamma"] == [0.9, 0.99]
    assert mutations["lr"] is param_space["lr"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ('{"lr": [1]}', "rl_tune_space: 'lr' is not an RLlib setting"),
        ('{"rl.training.lr": 0.1}', "rl.training.lr=0.1 is not a list of values"),
        ('{"rl.training.lr": {"loguniform": [0, 1]}}', "loguniform needs a positive low"),
        ('{"rl.training.num_epochs": {"randint": [1, 2.5]}}', "randint takes whole numbers"),
        ('{"rl.training.lr": {"normal": [0, 1]}}', "is not a list of values nor one of"),
    ],
)
def test_bad_spaces_are_named(space, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("(", r"\(")):
        Space.parse(job(tune_space=space))


def test_values_are_checked_as_overrides_are():
    space = Space.parse(job(tune_space='{"rl.training.num_epochs": ["many", 2]}'))
    with pytest.raises(UserError, match=r"hyperparameter rl_tune_space: rl\.training\.num_epochs"):
        space.param_space(ppo_config())


def test_pbt_needs_a_population():
    with pytest.raises(UserError, match="at least 2 trials"):
        Space.parse(job(tune_space='{"rl.training.lr": [1, 2]}', tune_search="pbt", tune_samples=1))


@pytest.mark.parametrize(
    ("cpus", "trials", "each"),
    [(2, 4, 0.5), (4, 4, 1.0), (2, 3, 0.5), (16, 4, 4.0), (16, 5, 3.0), (2, 16, 0.25), (3, 2, 1.5)],
)
def test_trials_share_the_cpus_in_quarters_or_whole_cpus_from_two(cpus, trials, each):
    assert sizing.trial_cpus(cpus, trials) == each


def test_a_remote_error_without_its_message_is_named_by_its_traceback():
    from sagemaker_rl_container.errors import summarize_root

    class Remote(Exception):  # as Ray's RayTaskError: the traceback text, `.cause` bare
        def __init__(self, text, cause):
            super().__init__(text)
            self.cause = cause

    text = (
        'ray::PPO.train() (pid=1)\n  File "sim.py", line 3, in step\n'
        "RuntimeError: the simulator lost its state\n\nThe above exception was the direct "
        "cause of the following exception:\n\nRuntimeError"
    )
    assert summarize_root(Remote(text, RuntimeError())) == (
        "RuntimeError: the simulator lost its state"
    )
    assert summarize_root(Remote(text, ValueError("bad"))) == "ValueError: bad"
