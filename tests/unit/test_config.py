"""`rl_*` settings: defaults, lax string conversion, and one-line errors for typos and types."""

from __future__ import annotations

import pytest

from sagemaker_rl_container.config import JobConfig, decode_value
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
    # decoded as every value is: "1" (however it was sent) is the number 1
    assert job.overrides == {"training.lr": 0.001, "env_runners.num_env_runners": 1}
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


# How the SageMaker clients encode one value: RLEstimator JSON-encodes (and sagemaker-training
# decodes that before we see it), a plain Estimator sends Python's str(value), boto3 what was
# typed. Each must mean the same setting.
@pytest.mark.parametrize(
    ("sent", "meant"),
    [
        ('{"items": 20, "capacity": 40}', {"items": 20, "capacity": 40}),  # JSON text
        ("{'items': 20, 'capacity': 40}", {"items": 20, "capacity": 40}),  # str(dict)
        ({"items": 20, "capacity": 40}, {"items": 20, "capacity": 40}),  # decoded already
        ("True", True),
        ("true", True),
        ("False", False),
        ("None", None),
        ("null", None),
        ("[64, 64]", [64, 64]),
        ("(64, 64)", [64, 64]),
        ("0.0003", 0.0003),
        ("3e-4", 0.0003),
        ("12", 12),
        ("'PPO'", "PPO"),
        ("PPO", "PPO"),
        ("CartPole-v1", "CartPole-v1"),
        ("corridor:Corridor", "corridor:Corridor"),
        ("{1, 2}", "{1, 2}"),  # a set has no JSON counterpart: stays text, the setting refuses it
        ("[" * 10000, "[" * 10000),  # too deep to parse: stays text
    ],
)
def test_every_client_encoding_decodes_to_the_same_value(sent, meant):
    assert decode_value(sent) == meant
    assert type(decode_value(sent)) is type(meant)


def test_a_plain_estimators_str_values_configure_the_job():
    # Estimator(hyperparameters={...}) sends str() of each value.
    job = JobConfig.from_hyperparameters(
        {
            "rl_env_config": str({"items": 20, "capacity": 40}),
            "rl_record_dataset": str(True),
            "rl_export_onnx": str(False),
            "rl_seed": str(None),
            "rl_stop_mean_return": str(450),
            "rl.rl_module.model_config": str({"fcnet_hiddens": [64, 64]}),
            "rl.training.lr": str(0.0005),
            "rl.env_runners.explore": str(False),
        }
    )
    assert job.env_config == {"items": 20, "capacity": 40}
    assert job.record_dataset is True and job.export_onnx is False and job.seed is None
    assert job.stop_mean_return == 450.0
    assert job.overrides == {
        "rl_module.model_config": {"fcnet_hiddens": [64, 64]},
        "training.lr": 0.0005,
        "env_runners.explore": False,
    }


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"rl_env_config": "items=20"},
            "hyperparameter rl_env_config='items=20' is invalid: input should be a valid dictionary",
        ),
        (
            {"rl_env_config": "[1, 2]"},
            "hyperparameter rl_env_config=[1, 2] is invalid: input should be a valid dictionary",
        ),
        (
            {"rl_record_dataset": "maybe"},
            "hyperparameter rl_record_dataset='maybe' is invalid: input should be a valid boolean, unable to interpret input",
        ),
        (
            {"rl_stop_iterations": "{'a': 1}"},
            "hyperparameter rl_stop_iterations={'a': 1} is invalid: input should be a valid integer",
        ),
    ],
)
def test_a_value_that_fits_no_encoding_fails_naming_key_value_and_type(hyperparameters, message):
    with pytest.raises(UserError) as error:
        JobConfig.from_hyperparameters(hyperparameters)
    assert str(error.value) == message
