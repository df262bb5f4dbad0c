"""A tiny custom environment, as a user would ship it in their source directory."""

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk right from 0 to `length`; each step costs 0.1, reaching the end pays 1."""

    def __init__(self, config=None):
        config = config or {}
        if config.get("length", 5) < 1:
            raise ValueError("length must be at least 1")
        self.length = int(config.get("length", 5))
        self.observation_space = gym.spaces.Box(0.0, float(self.length), (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return np.array([self.position], np.float32), {}

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        self.steps += 1
        done = self.position >= self.length
        reward = 1.0 if done else -0.1
        return np.array([self.position], np.float32), reward, done, self.steps >= 50, {}


def make_corridor(env_config):
    """A factory, for rl_env=corridor:make_corridor."""
    return Corridor(env_config)
