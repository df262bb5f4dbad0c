"""`rl_*` settings: defaults, lax string conversion, and one-line errors for typos and types."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError


def test_defaults_train_ppo_on_cartpole():
    job = JobConfig.from_hyperparameters({})
    assert (job.algorithm, job.env, job.framework) == ("PPO", "CartPole-v1", None)
    assert not job.has_stop_condition
    assert job.checkpoint_frequency == 10


def test_strings_are_converted_and_overrides_collected():
    job = JobConfig.from_hyperparameters(
        {
            "rl_stop_iterations": "12",
            "rl_stop_mean_return": "150",
            "rl_export_onnx": "false",
            "rl_env_config": '{"a": 1}',
            "rl.training.lr": 0.001,
            "rl.env_runners.num_env_runners": "1",
            "unrelated": "x",
        }
    )
    assert job.stop_iterations == 12
    assert job.stop_mean_return == 150.0
    assert job.export_onnx is False
    assert job.env_config == {"a": 1}
    assert job.overrides == {"training.lr": 0.001, "env_runners.num_env_runners": "1"}
    assert job.has_stop_condition


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"rl_stop_iteration": 5},
            "unknown hyperparameter rl_stop_iteration .did you mean rl_stop_iterations",
        ),
        ({"rl_algo": "PPO"}, "unknown hyperparameter rl_algo"),
        ({"rl_stop_iterations": "ten"}, "rl_stop_iterations='ten' is invalid"),
        (
            {"rl_stop_iterations": 0},
            "rl_stop_iterations=0 is invalid: input should be greater than 0",
        ),
        (
            {"rl_env_config": "[1, 2]"},
            "rl_env_config=.* is invalid: input should be a valid dictionary",
        ),
        ({"rl_checkpoint_frequency": -1}, "rl_checkpoint_frequency=-1 is invalid"),
        ({"rl_overrides": "{}"}, "unknown hyperparameter rl_overrides"),
    ],
)
def test_bad_settings_fail_with_one_line_naming_the_key(hyperparameters, message):
    with pytest.raises(UserError, match=message) as error:
        JobConfig.from_hyperparameters(hyperparameters)
    assert "\n" not in str(error.value)
