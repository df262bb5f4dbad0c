"""Environments with a bug that shows only once training runs, as a user's would."""

import gymnasium as gym
import numpy as np


class StepFails(gym.Env):
    def __init__(self, config=None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, dtype=np.float32), {}

    def step(self, action):
        self.steps += 1
        if self.steps > 50:
            raise KeyError("no reward defined for state 'lava'")
        return np.zeros(2, dtype=np.float32), 0.0, False, self.steps % 10 == 0, {}
