"""What a job with rl_external_port refuses before Ray starts (ray_rllib/external.py)."""

from __future__ import annotations

import gymnasium as gym
import pytest
from ray.rllib.algorithms.ppo import PPOConfig

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import external


def test_the_driver_runner_becomes_the_simulators_server_on_the_port():
    config = PPOConfig().environment(env_config={"size": 3})
    box, discrete = gym.spaces.Box(-1.0, 1.0, (4,)), gym.spaces.Discrete(2)
    external.configure(config, 5555, 60.0, box, discrete)
    assert config.env_config == {"size": 3, "port": 5555, external.TIMEOUT: 60.0}
    assert config.num_env_runners == 0 and config.num_envs_per_env_runner == 1
    assert config.env_runner_cls is external.server_class()
    assert config.observation_space == box and config.action_space == discrete


@pytest.mark.parametrize(
    ("config", "overrides", "message"),
    [
        (PPOConfig(), {"env_runners.num_env_runners": 2}, "one simulator connects to a job"),
        (
            PPOConfig().api_stack(
                enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
            ),
            {},
            "use a ray-pytorch image",
        ),
        (PPOConfig().multi_agent(policies={"a", "b"}), {}, "external simulators are single-agent"),
    ],
)
def test_what_the_external_path_cannot_take(config, overrides, message):
    with pytest.raises(UserError) as raised:
        external.check(config, 5555, overrides)
    assert message in str(raised.value)
    external.check(PPOConfig(), 5555, {"env_runners.num_env_runners": 0})
