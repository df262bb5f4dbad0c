"""Ray 1.x experiment dicts become current RLlib configs, and gym environments gymnasium ones."""

from __future__ import annotations

import gym
import gymnasium
import numpy as np
import pytest

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import gym_compat, legacy_experiment

EXPERIMENT = {
    "training": {
        "run": "PPO",
        "env": "CartPole-v1",
        "stop": {"training_iteration": 10, "episode_reward_mean": 450},
        "checkpoint_freq": 5,
        "config": {
            "num_workers": 3,
            "sgd_minibatch_size": 64,
            "num_sgd_iter": 7,
            "train_batch_size": 512,
            "lambda": 0.9,
            "model": {"fcnet_hiddens": [32, 32]},
            "monitor": False,
        },
    }
}


def test_ray1_keys_become_their_current_names():
    translated = legacy_experiment.translate(EXPERIMENT)
    config = translated.config
    assert (config.num_env_runners, config.minibatch_size, config.num_epochs) == (3, 64, 7)
    assert config.train_batch_size == 512 and config.lambda_ == 0.9
    assert config.model_config["fcnet_hiddens"] == [32, 32] and config.env == "CartPole-v1"
    assert translated.settings == {
        "checkpoint_frequency": 5,
        "stop_iterations": 10,
        "stop_mean_return": 450,
    }


def test_legacy_hyperparameters_adjust_the_dict_and_leave_the_rest():
    hyperparameters = {
        "rl.training.config.lr": "0.001",
        "rl.training.stop.training_iteration": "4",
        "rl.training.lr": "0.01",  # an rl.<section>.<setting> override of the config
        "rl_seed": "3",
    }
    legacy, rest = legacy_experiment.split_hyperparameters(hyperparameters, EXPERIMENT)
    assert rest == {"rl.training.lr": "0.01", "rl_seed": "3"}
    adjusted = legacy_experiment.apply_hyperparameters(EXPERIMENT, legacy)
    assert adjusted["training"]["config"]["lr"] == 0.001
    assert adjusted["training"]["stop"]["training_iteration"] == 4
    assert EXPERIMENT["training"]["stop"]["training_iteration"] == 10  # not mutated


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"horizon": 200}, "config key 'horizon' (=200) has no meaning in RLlib 2.x"),
        ({"num_sgd_iters": 3}, "config key 'num_sgd_iters' is not an RLlib setting (did you mean"),
        ({"model": {"custom_model": "m"}}, "config key 'model': custom_model (a ModelV2)"),
    ],
)
def test_keys_without_a_current_meaning_fail_with_one_line(config, message):
    with pytest.raises(UserError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        legacy_experiment.translate({"training": {"run": "PPO", "config": config}})


@pytest.mark.parametrize(
    ("experiment", "message"),
    [
        ({"run": "A2C"}, "\"run\": 'A2C': RLlib 2.x no longer has A2C; the closest it has is PPO"),
        ({"run": "PPO", "stop": {"episodes_total": 5}}, "stop condition 'episodes_total'"),
        ({"run": "PPO", "restore": "/x"}, "experiment key 'restore' has no meaning here: give"),
    ],
)
def test_experiment_keys_without_a_meaning_fail_with_one_line(experiment, message):
    with pytest.raises(UserError) as raised:
        legacy_experiment.translate({"training": experiment})
    assert str(raised.value).startswith(message)


class OldApiEnv(gym.Env):
    """gym before 0.26: reset() -> obs, step() -> 4-tuple."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.steps = 0

    def reset(self):
        self.steps = 0
        return np.zeros(2, np.float32)

    def step(self, action):
        self.steps += 1
        return np.zeros(2, np.float32), 1.0, self.steps >= 3, {}


@pytest.mark.parametrize(
    ("make", "api"),
    [(OldApiEnv, gym_compat.V21), (lambda: gym.make("CartPole-v1"), gym_compat.V26)],
)
def test_gym_envs_of_either_api_become_gymnasium_envs(make, api):
    env = make()
    assert gym_compat.api_of(env) == api
    wrapped = gym_compat.wrap(env)
    assert isinstance(wrapped, gymnasium.Env)
    assert isinstance(wrapped.observation_space, gymnasium.spaces.Box)
    observation, _ = wrapped.reset(seed=1)
    assert observation.shape == wrapped.observation_space.shape
    assert len(wrapped.step(0)) == 5
    assert gym_compat.wrap(wrapped) is wrapped  # gymnasium envs pass through
