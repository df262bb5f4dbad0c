"""Gym's MountainCar-v0 (gym 0.12 API) with potential-based reward shaping, as a custom Coach
environment (`mountain_car:ShapedMountainCar`).

The plain env pays -1 per step until the car reaches the flag (at most 200 steps), so a random
policy never learns anything: its return is -200 in every episode. The car has to rock back and
forth to build up energy; this wrapper rewards that progress with F = gamma * Phi(s') - Phi(s)
(Ng, Harada & Russell, 1999: shaping of this form leaves the optimal policy unchanged), where
Phi is the car's mechanical energy E = v^2 / 2 + (g / 3) sin(3x) (gym's gravity term is
-g cos(3x), g = 0.0025), scaled so that Phi runs from -scale at rest in the valley to 0 at rest
at the flag. Observations are scaled to [-1, 1] (`normalize`: apply it to the plain env's
observations when running the trained policy there, as evaluate.py does). The plain reward is
in info["original_reward"].
"""

import math

import gym
import numpy as np
from gym import spaces

GRAVITY = 0.0025
LOW = np.array([-1.2, -0.07], dtype=np.float32)
HIGH = np.array([0.6, 0.07], dtype=np.float32)
GOAL_POSITION = 0.5


def energy(x, v):
    return 0.5 * v * v + GRAVITY / 3.0 * math.sin(3.0 * x)


ENERGY_VALLEY = energy(-math.pi / 6, 0.0)  # at rest at the bottom
ENERGY_GOAL = energy(GOAL_POSITION, 0.0)  # at rest at the flag


def normalize(observation):
    observation = np.asarray(observation, dtype=np.float32)
    return (2.0 * (observation - LOW) / (HIGH - LOW) - 1.0).astype(np.float32)


class ShapedMountainCar(gym.Env):
    metadata = {"render.modes": ["rgb_array"]}

    def __init__(self, shaping_scale=50.0, gamma=0.99):
        self.env = gym.make("MountainCar-v0")  # gym's TimeLimit: 200 steps
        self.scale = float(shaping_scale)
        self.gamma = float(gamma)
        self.action_space = self.env.action_space
        self.observation_space = spaces.Box(low=-1.0, high=1.0, shape=(2,), dtype=np.float32)
        self.potential = 0.0

    def seed(self, seed=None):
        return self.env.seed(seed)

    def reset(self):
        observation = self.env.reset()
        self.potential = self._potential(observation)
        return normalize(observation)

    def step(self, action):
        observation, reward, done, info = self.env.step(int(action))
        reached = bool(observation[0] >= GOAL_POSITION)
        following = 0.0 if reached else self._potential(observation)
        shaping = self.gamma * following - self.potential
        self.potential = following
        info = dict(info, original_reward=float(reward), reached_goal=reached)
        return normalize(observation), float(reward) + shaping, done, info

    def render(self, mode="rgb_array"):
        return self.env.render(mode=mode)

    def close(self):
        self.env.close()

    def _potential(self, observation):
        x, v = float(observation[0]), float(observation[1])
        return self.scale * (energy(x, v) - ENERGY_GOAL) / (ENERGY_GOAL - ENERGY_VALLEY)
