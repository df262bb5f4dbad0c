"""A small object-tracking task standing in for the RoboMaker object tracker (no RoboMaker or
Gazebo here): the agent moves on a plane to stay close to a target that wanders. Each step sleeps
`step_ms` to stand in for a simulator's cost, which is what makes spreading rollouts over hosts
pay off.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

MOVES = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float32)


class ObjectTracker(gym.Env):
    def __init__(self, env_config: dict[str, Any] | None = None) -> None:
        config = env_config or {}
        self.size = float(config.get("size", 10.0))
        self.max_steps = int(config.get("max_steps", 100))
        self.step_ms = float(config.get("step_ms", 0.0))
        # Observation: the target's position relative to the agent, scaled to the plane.
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.agent = self.np_random.uniform(0, self.size, 2).astype(np.float32)
        self.target = self.np_random.uniform(0, self.size, 2).astype(np.float32)
        self.steps = 0
        return self._observation(), {}

    def step(self, action: int):
        if self.step_ms:
            time.sleep(self.step_ms / 1000)  # the simulator's time
        self.agent = np.clip(self.agent + 0.5 * MOVES[action], 0, self.size)
        drift = self.np_random.normal(0, 0.2, 2).astype(np.float32)
        self.target = np.clip(self.target + drift, 0, self.size)
        self.steps += 1
        distance = float(np.linalg.norm(self.target - self.agent))
        reward = -distance / self.size
        return self._observation(), reward, False, self.steps >= self.max_steps, {}

    def _observation(self) -> np.ndarray:
        return ((self.target - self.agent) / self.size).astype(np.float32)
