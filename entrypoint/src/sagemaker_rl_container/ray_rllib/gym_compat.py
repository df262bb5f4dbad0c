"""Environments written for `gym` (OpenAI's, before gymnasium) run on RLlib through Shimmy.

Two kinds reach a job: gym 0.26's API (`reset(seed=...)` -> `(obs, info)`, 5-tuple `step`:
what `gym.make` returns today) and the older one (`reset()` -> `obs`, 4-tuple `step` with
`done`) that most SageMaker RL environments were written for. Shimmy's GymV26CompatibilityV0
and GymV21CompatibilityV0 turn either into a gymnasium env; gymnasium's spaces replace gym's.
Creators stay picklable: RLlib ships them to every env runner, which wraps in its own process.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import inspect
import logging
from collections.abc import Callable
from typing import Any

import gymnasium

logger = logging.getLogger(__name__)

V21 = "GymV21CompatibilityV0"
V26 = "GymV26CompatibilityV0"


def gym_installed() -> bool:
    return importlib.util.find_spec("gym") is not None


def api_of(env: Any) -> str | None:
    """Which Shimmy wrapper `env` needs: V21, V26, or None for a gymnasium env."""
    if isinstance(env, gymnasium.Env):
        return None
    space = getattr(env, "observation_space", None)
    if space is None or isinstance(space, gymnasium.Space) or not gym_installed():
        return None
    import gym

    if not isinstance(space, gym.Space):
        return None
    # gym's wrappers (`gym.make` adds TimeLimit...) take **kwargs: the env itself decides.
    reset = getattr(getattr(env, "unwrapped", env), "reset", None)
    try:
        takes_seed = reset is not None and "seed" in inspect.signature(reset).parameters
    except (TypeError, ValueError):
        takes_seed = False
    return V26 if takes_seed else V21


def wrap(env: Any) -> Any:
    """`env` as a gymnasium env (unchanged if it is one already)."""
    api = api_of(env)
    if api is None:
        return env
    import numpy

    # gym 0.26's passive checker still names numpy's `bool8`, an alias numpy 2 removed.
    if not hasattr(numpy, "bool8"):
        numpy.bool8 = numpy.bool_
    from shimmy import openai_gym_compatibility as shimmy_gym

    if api == V21 and not hasattr(env, "seed"):
        # gym 0.21's Env had a no-op `seed()`, which Shimmy calls on reset(seed=...);
        # classes built on gym 0.26's Env no longer inherit one.
        env.seed = _no_seed
    return getattr(shimmy_gym, api)(env=env)


def adapted(creator: Callable[[Any], Any], env_config: Any) -> Any:
    """What RLlib calls instead of `creator`: the env it builds, as a gymnasium env."""
    return wrap(creator(env_config))


def adapting(creator: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return functools.partial(adapted, creator)


def make_gym(env_id: str, env_config: Any) -> Any:
    import gym

    return gym.make(env_id, **(env_config or {}))


def gym_id_creator(env_id: str) -> Callable[[Any], Any] | None:
    """A creator for an id only gym's registry knows (not gymnasium's), or None."""
    if not gym_installed():
        return None
    try:
        import gym

        gym.spec(env_id)
    except Exception:
        return None
    return adapting(functools.partial(make_gym, env_id))


def log_adapted(name: str, env: Any) -> None:
    api = api_of(env)
    if api is not None:
        logger.info(
            "Environment %s is written for gym (%s API): it runs through Shimmy's %s",
            name,
            "0.26" if api == V26 else "pre-0.26, 4-tuple step",
            api,
        )


def adapt_registered(name: Any, env_config: Any) -> None:
    """After a program registered its envs (`register_env`): make the one the config names
    work whether its creator builds a gym or a gymnasium env. Call after `ray.init`."""
    if not isinstance(name, str):
        return
    from ray.tune.registry import ENV_CREATOR, _global_registry, register_env

    if _global_registry.contains(ENV_CREATOR, name):
        creator = _global_registry.get(ENV_CREATOR, name)
        if isinstance(creator, functools.partial) and creator.func is adapted:
            return
        try:
            probe = creator(env_config)
        except Exception as error:
            # RLlib's own build reports it, with the env runner's traceback.
            logger.warning("Environment %s could not be built here to check it: %s", name, error)
            return
        log_adapted(name, probe)
        if api_of(probe) is not None:
            register_env(name, adapting(creator))
        _close(probe)
        return
    if _is_gymnasium_id(name):
        return
    creator = gym_id_creator(name)
    if creator is not None:
        probe = creator(env_config)
        logger.info(
            "Environment %s is registered with gym, not gymnasium: it runs through Shimmy's %s",
            name,
            V26,
        )
        _close(probe)
        register_env(name, creator)


def _is_gymnasium_id(name: str) -> bool:
    try:
        gymnasium.spec(name)
    except Exception:
        return False
    return True


def _close(env: Any) -> None:
    with contextlib.suppress(Exception):
        env.close()


def _no_seed(seed: Any = None) -> list[Any]:
    return [seed]
