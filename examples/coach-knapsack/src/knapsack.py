"""An online knapsack, written for gym 0.12 as the Coach notebooks' environments were
(`reset()` returns the observation, `step()` four values, `seed()` seeds).

Items arrive one at a time, each with a weight and a value (whole numbers 1-10, drawn
independently); the agent takes the item (action 1) or leaves it (0). A taken item that fits
adds its value to the reward; one that does not fit is lost. An episode is `items` decisions.

Observation (all in [0, 1]): remaining capacity / capacity, weight / 10, value / 10,
items left / items, and whether the item fits. Taking every item that fits (`greedy`) fills the
knapsack with whatever comes first; a policy that waits for valuable, light items packs more.
"""

import gym
import numpy as np
from gym import spaces

MAX_WEIGHT = 10
MAX_VALUE = 10


class Knapsack(gym.Env):
    metadata = {"render.modes": []}

    def __init__(self, items=20, capacity=30, seed=None):
        self.items = int(items)
        self.capacity = float(capacity)
        self.action_space = spaces.Discrete(2)
        self.observation_space = spaces.Box(low=0.0, high=1.0, shape=(5,), dtype=np.float32)
        self.rng = np.random.RandomState(seed)
        self.reset()

    def seed(self, seed=None):
        self.rng = np.random.RandomState(seed)
        return [seed]

    def reset(self):
        self.remaining = self.capacity
        self.index = 0
        self.packed = 0.0
        self._draw()
        return self._observation()

    def step(self, action):
        reward = 0.0
        if int(action) == 1 and self.weight <= self.remaining:
            self.remaining -= self.weight
            reward = self.value
        self.packed += reward
        self.index += 1
        done = self.index >= self.items
        if not done:
            self._draw()
        return self._observation(), reward, done, {"packed": self.packed}

    def render(self, mode="human"):
        print(f"item {self.index}/{self.items}: remaining {self.remaining}, packed {self.packed}")

    def _draw(self):
        self.weight = float(self.rng.randint(1, MAX_WEIGHT + 1))
        self.value = float(self.rng.randint(1, MAX_VALUE + 1))

    def _observation(self):
        return np.array(
            [
                self.remaining / self.capacity,
                self.weight / MAX_WEIGHT,
                self.value / MAX_VALUE,
                (self.items - self.index) / self.items,
                float(self.weight <= self.remaining),
            ],
            dtype=np.float32,
        )


def greedy(observation):
    """The baseline: take every item that fits."""
    return int(observation[4] > 0.5)
