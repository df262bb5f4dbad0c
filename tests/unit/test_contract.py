"""The SageMaker contract as sagemaker-training reads it from a sample /opt/ml tree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sagemaker_rl_container.contract import TrainingContract, check_config_files
from sagemaker_rl_container.errors import UserError


def write_tree(
    base: Path,
    hyperparameters: dict,
    resources: dict | None = None,
    channels: dict | None = None,
) -> None:
    config = base / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "resourceconfig.json").write_text(
        json.dumps(resources or {"current_host": "algo-1", "hosts": ["algo-1"]})
    )
    (config / "inputdataconfig.json").write_text(json.dumps(channels or {}))


def test_hyperparameters_arrive_decoded_whether_json_encoded_or_not(session_base):
    write_tree(
        session_base,
        {
            "rl_algorithm": '"PPO"',  # JSON-encoded, as the SageMaker Python SDK sends it
            "rl_env": "CartPole-v1",  # raw string, as the AWS CLI or boto3 may send it
            "rl_stop_iterations": "20",
            "rl.training.lr": "0.0003",
            "rl_env_config": '{"size": 3}',
            "my_own_setting": "true",
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": '"s3://bucket/source.tar.gz"',
            "sagemaker_region": '"us-west-2"',
            "_tuning_objective_metric": "episode_reward_mean",
        },
    )
    contract = TrainingContract.from_environment()
    assert contract.hyperparameters == {
        "rl_algorithm": "PPO",
        "rl_env": "CartPole-v1",
        "rl_stop_iterations": 20,
        "rl.training.lr": 0.0003,
        "rl_env_config": {"size": 3},
        "my_own_setting": True,
    }
    assert contract.user_program == "train.py"
    assert contract.submit_directory == "s3://bucket/source.tar.gz"


def test_paths_hosts_and_channels(session_base):
    write_tree(
        session_base,
        {},
        resources={
            "current_host": "algo-2",
            "hosts": ["algo-1", "algo-2"],
            "network_interface_name": "eth1",
        },
        channels={"offline": {"TrainingInputMode": "File"}},
    )
    contract = TrainingContract.from_environment()
    assert contract.model_dir == session_base / "model"
    assert contract.output_dir == session_base / "output"
    assert contract.output_data_dir == session_base / "output" / "data"
    assert contract.checkpoint_dir == session_base / "checkpoints"
    assert contract.current_host == "algo-2"
    assert contract.hosts == ["algo-1", "algo-2"]
    assert contract.is_distributed
    assert contract.network_interface == "eth1"
    assert contract.channel("offline") == session_base / "input" / "data" / "offline"
    assert contract.num_cpus >= 1
    with pytest.raises(
        UserError, match=r"input channel 'train' is missing .*channels given: offline"
    ):
        contract.channel("train")


def test_current_host_must_be_among_hosts(session_base):
    write_tree(session_base, {}, resources={"current_host": "algo-9", "hosts": ["algo-1"]})
    with pytest.raises(UserError, match="current_host 'algo-9' is not among hosts"):
        TrainingContract.from_environment()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("hyperparameters.json", '{"rl_env": "CartPole-v1",}', "is not valid JSON"),
        ("hyperparameters.json", '["rl_env"]', "must hold a JSON object, not list"),
        ("resourceconfig.json", '{"hosts": ["algo-1"]}', "lacks current_host"),
        ("inputdataconfig.json", "{", "is not valid JSON"),
    ],
)
def test_malformed_config_files_are_named(tmp_path, name, content, message):
    write_tree(tmp_path, {})
    (tmp_path / "input" / "config" / name).write_text(content)
    with pytest.raises(UserError, match=message) as error:
        check_config_files(tmp_path)
    assert name in str(error.value)
    assert "\n" not in str(error.value)
