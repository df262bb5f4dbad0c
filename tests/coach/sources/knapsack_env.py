"""A small knapsack environment (gym 0.12 API), in the spirit of SageMaker's
rl_knapsack_coach_custom example: items arrive one at a time; take it (1) or not (0)."""

import gym
import numpy as np
from gym import spaces


class KnapsackEnv(gym.Env):
    def __init__(self, items=8, capacity=10.0, seed=0):
        self.items = items
        self.capacity = capacity
        self.rng = np.random.RandomState(seed)
        self.action_space = spaces.Discrete(2)
        # remaining capacity, this item's weight and value, items left
        self.observation_space = spaces.Box(low=0.0, high=100.0, shape=(4,), dtype=np.float32)

    def _observation(self):
        weight, value = self.current
        left = self.items - self.index
        return np.array([self.remaining, weight, value, left], dtype=np.float32)

    def _next_item(self):
        self.current = (float(self.rng.randint(1, 6)), float(self.rng.randint(1, 10)))

    def reset(self):
        self.remaining = self.capacity
        self.index = 0
        self._next_item()
        return self._observation()

    def step(self, action):
        weight, value = self.current
        reward = 0.0
        if action == 1 and weight <= self.remaining:
            self.remaining -= weight
            reward = value
        self.index += 1
        done = self.index >= self.items
        if not done:
            self._next_item()
        return self._observation(), reward, done, {}
