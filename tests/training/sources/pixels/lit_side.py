"""A pixel env for the tests: each step shows a 24x24 RGB image (uint8) whose left or right half
is lit; the action names the lit side (0: left, 1: right), reward 1 if right. Ten steps an
episode: random play averages 5."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

SIZE = 24
STEPS = 10


class LitSide(gym.Env):
    def __init__(self, config: dict | None = None) -> None:
        config = config or {}
        self.size = int(config.get("size", SIZE))
        self.observation_space = gym.spaces.Box(0, 255, (self.size, self.size, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.side = 0
        self.steps = 0

    def _observe(self) -> np.ndarray:
        image = self.np_random.integers(0, 40, (self.size, self.size, 3), dtype=np.uint8)
        half = self.size // 2
        lit = slice(0, half) if self.side == 0 else slice(half, self.size)
        image[:, lit, :] += 180
        return image

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.steps = 0
        self.side = int(self.np_random.integers(2))
        return self._observe(), {}

    def step(self, action):
        reward = 1.0 if int(action) == self.side else 0.0
        self.steps += 1
        self.side = int(self.np_random.integers(2))
        return self._observe(), reward, self.steps >= STEPS, False, {}
