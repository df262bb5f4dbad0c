"""Two switches to set at once: MultiDiscrete actions, which the ONNX export does not cover."""

import gymnasium as gym
import numpy as np


class Switches(gym.Env):
    def __init__(self, config=None):
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.MultiDiscrete([2, 2])
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self.target = self.np_random.integers(0, 2, size=2)
        return self.target.astype(np.float32), {}

    def step(self, action):
        self.steps += 1
        reward = float(np.sum(np.asarray(action) == self.target))
        self.target = self.np_random.integers(0, 2, size=2)
        return self.target.astype(np.float32), reward, False, self.steps >= 10, {}
