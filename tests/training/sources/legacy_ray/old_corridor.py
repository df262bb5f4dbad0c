"""An environment written for gym before 0.26: reset() returns the observation, step() a
4-tuple with `done`, no seeding."""

import gym
import numpy as np


class OldCorridor(gym.Env):
    def __init__(self, env_config=None):
        self.length = int((env_config or {}).get("length", 5))
        self.observation_space = gym.spaces.Box(0.0, self.length, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0
        self.steps = 0

    def reset(self):
        self.position = 0
        self.steps = 0
        return np.array([self.position], np.float32)

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        self.steps += 1
        done = self.position >= self.length or self.steps >= 50
        return np.array([self.position], np.float32), 1.0 if done else -0.1, done, {}
