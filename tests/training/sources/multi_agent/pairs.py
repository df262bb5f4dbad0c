"""The same game for PettingZoo's parallel API: "player_0" and "player_1" each see one of 3
targets, one-hot, and score 1 a step for naming it. Their spaces are the same, so a zero-code
job trains one policy for both. Ten steps an episode: random play scores 3.3 per player.
`parallel_env(**kwargs)` is PettingZoo's factory convention."""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

TARGETS = 3
STEPS = 10


class Pairs(ParallelEnv):
    metadata = {"name": "pairs_v0"}

    def __init__(self, steps: int = STEPS) -> None:
        self.possible_agents = ["player_0", "player_1"]
        self.agents = list(self.possible_agents)
        self._steps = steps
        self._observation_space = spaces.Box(0.0, 1.0, (TARGETS,), np.float32)
        self._action_space = spaces.Discrete(TARGETS)
        self._rng = np.random.default_rng()
        self._targets: dict[str, int] = {}
        self._step = 0

    def observation_space(self, agent):
        return self._observation_space

    def action_space(self, agent):
        return self._action_space

    def _observe(self):
        self._targets = {agent: int(self._rng.integers(TARGETS)) for agent in self.agents}
        return {
            agent: np.eye(TARGETS, dtype=np.float32)[target]
            for agent, target in self._targets.items()
        }

    def reset(self, seed=None, options=None):
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self._step = 0
        return self._observe(), {agent: {} for agent in self.agents}

    def step(self, actions):
        rewards = {
            agent: float(int(actions[agent]) == self._targets[agent]) for agent in self.agents
        }
        self._step += 1
        done = self._step >= self._steps
        observations = self._observe()
        terminations = dict.fromkeys(self.agents, done)
        truncations = dict.fromkeys(self.agents, False)
        infos = {agent: {} for agent in self.agents}
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos


def parallel_env(**kwargs):
    return Pairs(**kwargs)


def env(**kwargs):
    """The AEC form of the same game (one agent acts at a time), PettingZoo's `env()`."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(Pairs(**kwargs))
