"""Image observations: the CNN a zero-code job gets where RLlib has no default, the byte
images the policy sees scaled, and stacked observations (rl_frame_stack)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import environments, image_encoder
from sagemaker_rl_container.ray_rllib.algorithm_config import Resources, build


def image(height: int, width: int, channels: int = 3, dtype=np.uint8) -> gym.spaces.Box:
    return gym.spaces.Box(0, 255, (height, width, channels), dtype)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (24, [[16, 4, 2], [32, 4, 2]]),  # 24 -> 12 -> 6
        (32, [[16, 4, 2], [32, 4, 2], [64, 4, 2]]),  # 32 -> 16 -> 8 -> 4
        (7, [[16, 3, 2]]),  # 7 -> 4
        (5, [[16, 3, 1]]),  # already small: one layer that keeps the size
        (480, [[16, 4, 2], [32, 4, 2], [64, 4, 2], [128, 4, 2]]),  # at most four layers
    ],
)
def test_filters_halve_the_image_until_it_is_about_six_pixels(size, expected):
    assert image_encoder.filters(size, size + 8) == expected


def config_for(space: gym.spaces.Space, hyperparameters: dict | None = None):
    job = JobConfig.from_hyperparameters(hyperparameters or {})
    return build(job, Resources(cpus=2, gpus=0), "CartPole-v1", observation_space=space)


def test_an_image_rllib_has_no_default_for_gets_filters():
    assert config_for(image(24, 24)).model_config["conv_filters"] == [[16, 4, 2], [32, 4, 2]]


def test_rllibs_own_sizes_vectors_and_a_users_filters_are_left_alone():
    assert not config_for(image(84, 84)).model_config.get("conv_filters")
    assert not config_for(gym.spaces.Box(-1, 1, (4,))).model_config.get("conv_filters")
    mine = [[8, 3, 1]]
    config = config_for(image(24, 24), {"rl.rl_module.model_config": f'{{"conv_filters": {mine}}}'})
    assert config.model_config["conv_filters"] == mine


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [
        (24, 24, [[16, 4, 2], [32, 4, 2], [256, [6, 6], 1]]),  # 24 -> 12 -> 6, then 6x6 valid
        (7, 9, [[16, 3, 2], [256, [4, 5], 1]]),  # "same" padding: ceil(7 / 2), ceil(9 / 2)
        (5, 5, [[16, 3, 1], [256, [5, 5], 1]]),
    ],
)
def test_the_old_stacks_cnn_ends_in_one_convolution_over_what_is_left(height, width, expected):
    # RLlib's old vision network (TensorFlow) insists on a 1x1 map out of the last layer.
    assert image_encoder.old_stack_filters(height, width) == expected


def test_on_the_old_stack_the_filters_go_into_its_model_config_unless_the_user_set_them():
    from ray.rllib.algorithms.ppo import PPOConfig

    def old_stack(model: dict):
        config = PPOConfig().api_stack(
            enable_rl_module_and_learner=False, enable_env_runner_and_connector_v2=False
        )
        config.training(model=model)
        image_encoder.configure(config, image(24, 24))
        return config.model["conv_filters"]

    assert old_stack({}) == [[16, 4, 2], [32, 4, 2], [256, [6, 6], 1]]
    assert old_stack({"conv_filters": [[8, 24, 1]]}) == [[8, 24, 1]]


def test_byte_images_are_seen_scaled_to_one_and_other_observations_as_they_are():
    assert environments.scaled_images(image(24, 24))
    assert not environments.scaled_images(image(24, 24, dtype=np.float32))
    assert not environments.scaled_images(gym.spaces.Box(0, 255, (24, 24), np.uint8))

    class Pixels(gym.Env):
        observation_space = image(4, 4)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            return np.full((4, 4, 3), 255, np.uint8), {}

    wrapped = environments.ScaledImages(Pixels())
    observation, _ = wrapped.reset()
    assert observation.dtype == np.float32 and observation.max() == pytest.approx(1.0)
    assert wrapped.observation_space == gym.spaces.Box(0.0, 1.0, (4, 4, 3), np.float32)
    assert pytest.approx(1.0) == environments.IMAGE_SCALE * 255


def test_stacked_frames_start_repeated_then_shift_oldest_first():
    class Counter(gym.Env):
        observation_space = gym.spaces.Box(0, 100, (2,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            self.t = 0
            return np.array([0, 0], np.float32), {}

        def step(self, action):
            self.t += 1
            return np.array([self.t, self.t], np.float32), 0.0, False, False, {}

    env = environments.StackedFrames(Counter(), 3)
    assert env.observation_space.shape == (6,)
    assert env.reset()[0].tolist() == [0, 0, 0, 0, 0, 0]
    env.step(0)
    assert env.step(0)[0].tolist() == [0, 0, 1, 1, 2, 2]


def test_frame_stacking_resolves_to_the_stacked_space_and_refuses_what_it_cannot_stack():
    stacked = environments.resolve("CartPole-v1", {}, frame_stack=4)
    assert stacked.observation_space.shape == (16,)
    env = stacked.creator({})
    assert env.reset(seed=0)[0].shape == (16,)
    with pytest.raises(UserError) as error:
        environments.resolve("FrozenLake-v1", {}, frame_stack=2)
    assert str(error.value).startswith(
        "rl_frame_stack=2: stacks images (H, W, C) and vectors, and FrozenLake-v1's observations"
    )
    assert environments.stacked_space(image(24, 24), 2).shape == (24, 24, 6)
