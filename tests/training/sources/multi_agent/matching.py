"""Two agents with different spaces, each rewarded for naming what it is shown (RLlib's
MultiAgentEnv API): "scout" sees one of 4 targets, "signaller" one of 3, one-hot, and each
scores 1 a step when its action is its target's index. Ten steps an episode, so random play
scores 2.5 (scout) and 3.3 (signaller); a trained pair scores 10 each."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from ray.rllib.env.multi_agent_env import MultiAgentEnv

SIZES = {"scout": 4, "signaller": 3}
STEPS = 10


class Matching(MultiAgentEnv):
    def __init__(self, config: dict | None = None) -> None:
        super().__init__()
        self.possible_agents = list(SIZES)
        self.agents = list(SIZES)
        self.observation_spaces = {
            agent: gym.spaces.Box(0.0, 1.0, (n,), np.float32) for agent, n in SIZES.items()
        }
        self.action_spaces = {agent: gym.spaces.Discrete(n) for agent, n in SIZES.items()}
        self._rng = np.random.default_rng()
        self._targets: dict[str, int] = {}
        self._step = 0

    def _observe(self) -> dict[str, np.ndarray]:
        self._targets = {agent: int(self._rng.integers(n)) for agent, n in SIZES.items()}
        return {
            agent: np.eye(SIZES[agent], dtype=np.float32)[target]
            for agent, target in self._targets.items()
        }

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._step = 0
        return self._observe(), {}

    def step(self, actions):
        rewards = {
            agent: float(int(action) == self._targets[agent]) for agent, action in actions.items()
        }
        self._step += 1
        done = self._step >= STEPS
        observations = self._observe()
        return observations, rewards, {"__all__": done}, {"__all__": False}, {}
