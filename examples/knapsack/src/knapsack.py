"""An online knapsack, the custom environment of this example (trained as `knapsack:Knapsack`).

Items arrive one at a time, each with a random weight and value; the agent takes it (action 1)
or lets it go (action 0). A taken item that fits adds its value to the reward; one that does not
fit is lost. The episode ends after `items` items. Taking every item that fits (the greedy
baseline below) fills the bag early with whatever comes; a good policy keeps room for items
worth more per unit of weight.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MAX_WEIGHT = 10
MAX_VALUE = 10


class Knapsack(gym.Env):
    def __init__(self, env_config: dict[str, Any] | None = None) -> None:
        config = env_config or {}
        self.items = int(config.get("items", 20))
        self.capacity = int(config.get("capacity", 40))
        # Observation: this item's weight and value, the room left, the share of items left.
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(4,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._rng = np.random.default_rng()

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.left = self.items
        self.room = self.capacity
        self._next_item()
        return self._observation(), {}

    def step(self, action: int):
        reward = 0.0
        if action == 1 and self.weight <= self.room:
            self.room -= self.weight
            reward = float(self.value)
        self.left -= 1
        done = self.left == 0
        if not done:
            self._next_item()
        return self._observation(), reward, done, False, {}

    def _next_item(self) -> None:
        self.weight = int(self._rng.integers(1, MAX_WEIGHT + 1))
        self.value = int(self._rng.integers(1, MAX_VALUE + 1))

    def _observation(self) -> np.ndarray:
        return np.array(
            [
                self.weight / MAX_WEIGHT,
                self.value / MAX_VALUE,
                self.room / self.capacity,
                self.left / self.items,
            ],
            dtype=np.float32,
        )


def greedy(env: Knapsack) -> int:
    """The baseline: take every item that fits."""
    return int(env.weight <= env.room)
