"""Environment modules written for gym before 0.12 on the Coach images' gym 0.12.5.

gym 0.12's `TimeLimit(env, max_episode_steps=...)` writes the limit into `env.spec`, which an
environment class instantiated directly (not through `gym.make`) does not have: it fails with
`'NoneType' object has no attribute 'max_episode_steps'`. Earlier gyms also took
`max_episode_seconds`. The wrapper here takes both and needs no spec; gym itself is not patched
on disk, only its class's constructor, once, before the preset loads.
"""

from __future__ import annotations

from typing import Any, Optional


def install() -> None:
    import gym
    from gym.wrappers import time_limit

    limit = time_limit.TimeLimit
    if getattr(limit, "_sagemaker_rl_compat", False):
        return
    step = limit.step

    def __init__(
        self: Any,
        env: Any,
        max_episode_steps: Optional[int] = None,
        max_episode_seconds: Optional[float] = None,
    ) -> None:
        gym.Wrapper.__init__(self, env)
        spec = getattr(env, "spec", None)
        if max_episode_steps is None and spec is not None:
            max_episode_steps = spec.max_episode_steps
        if spec is not None:
            spec.max_episode_steps = max_episode_steps
        self._max_episode_steps = max_episode_steps
        # gym <= 0.11 also ended episodes after a wall-clock time: kept, not enforced.
        self._max_episode_seconds = max_episode_seconds
        self._elapsed_steps = None

    def limited_step(self: Any, action: Any) -> Any:
        if self._max_episode_steps is None:  # no limit given anywhere: none applies
            self._elapsed_steps = (self._elapsed_steps or 0) + 1
            return self.env.step(action)
        return step(self, action)

    limit.__init__ = __init__
    limit.step = limited_step
    limit._sagemaker_rl_compat = True
