"""Mountain car with energy-based reward shaping, for both gymnasium variants
(`mountain_car:ShapedMountainCar`, env_config {"continuous": true|false, ...}).

The car must build up energy by rocking to reach the flag; the env's own reward says nothing
about progress until the goal is reached once, so PPO explores for ~130k steps before it first
succeeds. Shaping with a potential F = gamma * Phi(s') - Phi(s) (Ng et al., 1999) leaves the
optimal policy unchanged and tells the agent about progress: Phi is the car's mechanical energy
E = v^2 / 2 + (0.0025 / 3) sin(3x) (the env's gravity term is -0.0025 cos(3x)), scaled so that
Phi runs from -K at rest in the valley to 0 at rest at the goal.

env_config: continuous (false), shaping_scale K (50; 0 turns shaping off), gamma (0.99: must
equal the algorithm's), normalize_obs (true: position and velocity scaled to [-1, 1]; apply
`normalize_obs` to the plain env's observations when running the trained policy there).
The unshaped reward is in info["original_reward"]: judge the policy on that (evaluate.py does).
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

GRAVITY = 0.0025 / 3.0
ENERGY_MIN = -GRAVITY  # at rest at the bottom of the valley
ENERGY_GOAL = GRAVITY * math.sin(3 * 0.5)  # at rest at the flag (x = 0.5)
LOW = np.array([-1.2, -0.07], np.float32)
HIGH = np.array([0.6, 0.07], np.float32)


def env_id(continuous: bool) -> str:
    return "MountainCarContinuous-v0" if continuous else "MountainCar-v0"


def energy(observation: np.ndarray) -> float:
    x, v = float(observation[0]), float(observation[1])
    return 0.5 * v * v + GRAVITY * math.sin(3.0 * x)


def normalize_obs(observation: np.ndarray) -> np.ndarray:
    observation = np.asarray(observation, np.float32)
    return (2.0 * (observation - LOW) / (HIGH - LOW) - 1.0).astype(np.float32)


class ShapedMountainCar(gym.Env):
    def __init__(self, env_config: dict[str, Any] | None = None) -> None:
        config = dict(env_config or {})
        self.scale = float(config.get("shaping_scale", 50.0))
        self.gamma = float(config.get("gamma", 0.99))
        self.normalize = bool(config.get("normalize_obs", True))
        self.env = gym.make(env_id(bool(config.get("continuous", False))))
        self.action_space = self.env.action_space
        self.observation_space = (
            gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
            if self.normalize
            else self.env.observation_space
        )
        self._potential_now = 0.0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        observation, info = self.env.reset(seed=seed, options=options)
        self._potential_now = self._potential(observation)
        return self._observe(observation), info

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        potential_next = 0.0 if terminated else self._potential(observation)
        shaping = self.gamma * potential_next - self._potential_now if self.scale else 0.0
        self._potential_now = potential_next
        info = dict(info, original_reward=float(reward))
        return self._observe(observation), float(reward) + shaping, terminated, truncated, info

    def _potential(self, observation: np.ndarray) -> float:
        return self.scale * (energy(observation) - ENERGY_GOAL) / (ENERGY_GOAL - ENERGY_MIN)

    def _observe(self, observation: np.ndarray) -> np.ndarray:
        return normalize_obs(observation) if self.normalize else np.asarray(observation, np.float32)
