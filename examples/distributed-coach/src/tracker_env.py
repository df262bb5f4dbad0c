"""A small object-tracking task standing in for the RoboMaker object tracker (no RoboMaker or
Gazebo here): the agent moves on a plane to stay close to a target that wanders. Each step sleeps
`step_ms` to stand in for a simulator's cost, which is what makes spreading rollouts over hosts
pay off. Written against gym's old API (Coach 1.0 runs gym 0.12): `reset()` returns the
observation, `step()` four values, and the episode ends itself after `max_steps`."""

import time

import gym
import numpy as np

MOVES = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float32)


class ObjectTracker(gym.Env):
    def __init__(self, size=10.0, max_steps=100, step_ms=0.0):
        self.size = float(size)
        self.max_steps = int(max_steps)
        self.step_ms = float(step_ms)
        # Observation: the target's position relative to the agent, scaled to the plane.
        self.observation_space = gym.spaces.Box(-2.0, 2.0, shape=(2,), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(len(MOVES))
        self.random = np.random.RandomState()

    def seed(self, seed=None):
        self.random = np.random.RandomState(seed)
        return [seed]

    def reset(self):
        self.agent = self.random.uniform(0, self.size, 2).astype(np.float32)
        self.target = self.random.uniform(0, self.size, 2).astype(np.float32)
        self.steps = 0
        return self._observation()

    def step(self, action):
        if self.step_ms:
            time.sleep(self.step_ms / 1000)  # the simulator's time
        self.agent = np.clip(self.agent + 0.5 * MOVES[int(action)], 0, self.size)
        drift = self.random.normal(0, 0.2, 2).astype(np.float32)
        self.target = np.clip(self.target + drift, 0, self.size)
        self.steps += 1
        distance = float(np.linalg.norm(self.target - self.agent))
        return self._observation(), -distance / self.size, self.steps >= self.max_steps, {}

    def _observation(self):
        return ((self.target - self.agent) / self.size).astype(np.float32)
