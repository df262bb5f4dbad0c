"""Resolve `rl_env` into something RLlib can build, and fail early when it cannot.

`rl_env` is either a gymnasium id (`CartPole-v1`, or gymnasium's own `module:EnvId` form), or
`module:Class` / `module:factory` importable from the source directory or an installed package.
Classes and factories are called with the `rl_env_config` dict, as RLlib calls env classes.
Environments written for `gym` instead (ids in gym's registry, classes on gym's API) run
through Shimmy (gym_compat.py). Multi-agent envs (an RLlib `MultiAgentEnv`, or a PettingZoo env,
also named by its module alone, e.g. `my_game` for `my_game:parallel_env`) are described by
their agents (multi_agent.py); factories whose parameters are all keywords (PettingZoo's `env`
and `parallel_env`) take `rl_env_config` as keyword arguments.
"""

from __future__ import annotations

import collections
import difflib
import functools
import importlib
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import gymnasium as gym
import numpy as np

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import gym_compat, image_encoder, multi_agent

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedEnv:
    spec: str
    # What to pass to `AlgorithmConfig.environment(env=...)`: a gymnasium id or a registered name.
    rllib_env: str
    creator: Callable[[dict[str, Any]], gym.Env] | None
    observation_space: gym.Space
    action_space: gym.Space
    reward_threshold: float | None
    # A multi-agent env's agents and their spaces (the spaces above: Dicts by agent); None for
    # a single-agent env.
    agents: multi_agent.Agents | None = None


def _construct(factory: Callable[..., gym.Env], env_config: dict[str, Any]) -> gym.Env:
    env = factory(**env_config) if _keywords_only(factory) else factory(env_config)
    return multi_agent.as_rllib_env(env)


def _keywords_only(factory: Callable[..., Any]) -> bool:
    """Whether `factory` takes keyword arguments only (`env(**kwargs)`), not a config dict."""
    try:
        parameters = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    kinds = {parameter.kind for parameter in parameters}
    return bool(kinds) and kinds <= {inspect.Parameter.VAR_KEYWORD, inspect.Parameter.KEYWORD_ONLY}


def resolve(spec: str, env_config: dict[str, Any], frame_stack: int = 1) -> ResolvedEnv:
    """Find the environment `spec` names and build it once to check it works; `frame_stack`:
    each observation comes stacked with the ones before it (StackedFrames)."""
    resolved = _resolve(spec, env_config)
    return _stacked(resolved, frame_stack) if frame_stack > 1 else resolved


def _resolve(spec: str, env_config: dict[str, Any]) -> ResolvedEnv:
    factory = _import_factory(spec) if ":" in spec else None
    if factory is not None:
        creator = functools.partial(_construct, factory)
        env = _build(spec, lambda: creator(env_config))
        if multi_agent.is_multi_agent(env):
            return _resolved_multi_agent(spec, creator, env)
        if gym_compat.api_of(env) is not None:
            gym_compat.log_adapted(spec, env)
            creator = gym_compat.adapting(creator)
            env = _build(spec, lambda: gym_compat.wrap(env))
        threshold = getattr(getattr(env, "spec", None), "reward_threshold", None)
        return _resolved(spec, spec, creator, env, threshold)
    if not _is_gym_id(spec):
        old_gym = gym_compat.gym_id_creator(spec)
        if old_gym is not None:
            env = _build(spec, lambda: old_gym(env_config))
            logger.info(
                "rl_env %s is registered with gym, not gymnasium: it runs through Shimmy's %s",
                spec,
                gym_compat.V26,
            )
            threshold = getattr(getattr(env, "spec", None), "reward_threshold", None)
            return _resolved(spec, spec, old_gym, env, threshold)
        module_factory = _module_factory(spec)
        if module_factory is not None:
            return _resolve(module_factory, env_config)
    gym_spec = _gym_spec(spec)
    env = _build(spec, lambda: gym.make(spec, **env_config))
    return _resolved(spec, spec, None, env, gym_spec.reward_threshold)


def stacked_space(space: gym.spaces.Box, frames: int) -> gym.spaces.Box:
    """`space` `frames` times over, along its last axis (an image's channels)."""
    return gym.spaces.Box(
        np.concatenate([space.low] * frames, axis=-1),
        np.concatenate([space.high] * frames, axis=-1),
        dtype=space.dtype,
    )


class StackedFrames(gym.Wrapper):
    """Each observation with the `frames` - 1 before it, oldest first, along the last axis; an
    episode starts with its first observation repeated."""

    def __init__(self, env: gym.Env, frames: int) -> None:
        super().__init__(env)
        self.observation_space = stacked_space(env.observation_space, frames)
        self._recent: collections.deque = collections.deque(maxlen=frames)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        observation, info = self.env.reset(**kwargs)
        self._recent.extend([observation] * self._recent.maxlen)
        return self._stack(), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        self._recent.append(observation)
        return self._stack(), reward, terminated, truncated, info

    def _stack(self) -> np.ndarray:
        return np.concatenate(list(self._recent), axis=-1)


def _stacked(resolved: ResolvedEnv, frames: int) -> ResolvedEnv:
    space = resolved.observation_space
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) in (1, 3)):
        raise UserError(
            f"rl_frame_stack={frames}: stacks images (H, W, C) and vectors, and "
            f"{resolved.spec}'s observations are {space}"
        )
    stacked = stacked_space(space, frames)
    logger.info(
        "rl_env %s: each observation stacked with the %d before it: %s",
        resolved.spec,
        frames - 1,
        "x".join(str(n) for n in stacked.shape),
    )
    return replace(
        resolved,
        creator=functools.partial(_make_stacked, _creator(resolved), frames),
        observation_space=stacked,
    )


def _make_stacked(
    make_env: Callable[[dict[str, Any]], gym.Env], frames: int, env_config: dict[str, Any]
) -> gym.Env:
    return StackedFrames(make_env(env_config), frames)


# What a byte image's pixels are multiplied by before the policy sees them (RLlib's CNNs take
# floats, and train best on values near 1, as RLlib's own Atari wrappers scale them).
IMAGE_SCALE = 1 / 255


def scaled_images(space: gym.Space) -> bool:
    """Whether `space` is a byte image, (H, W, C) uint8, which the policy sees scaled."""
    return image_encoder.image_shape(space) is not None and space.dtype == np.uint8


class ScaledImages(gym.ObservationWrapper):
    """Byte images as float32 in [0, 1]. The exported policy scales its input the same way, so
    it (and the endpoint) takes the env's own pixels."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0.0, 1.0, env.observation_space.shape, np.float32)

    def observation(self, observation: Any) -> np.ndarray:
        return np.asarray(observation, np.float32) * np.float32(IMAGE_SCALE)


def register(resolved: ResolvedEnv, scale_images: bool = False) -> float | None:
    """Make a `module:Class` env known to RLlib under its spec (call after `ray.init`).
    `scale_images`: a byte-image env is registered scaled; returns
    the scale its observations get, None where they are left as they are."""
    from ray.tune.registry import register_env

    if scale_images and scaled_images(resolved.observation_space):
        # Registered under the spec, a gymnasium id's too: RLlib looks in this registry first.
        register_env(resolved.rllib_env, functools.partial(_make_scaled, _creator(resolved)))
        logger.info(
            "rl_env %s shows byte images: the policy sees them scaled to [0, 1] (the exported "
            "policy takes the pixels as they are)",
            resolved.spec,
        )
        return IMAGE_SCALE
    if resolved.creator is not None:
        register_env(resolved.rllib_env, resolved.creator)
    return None


def _creator(resolved: ResolvedEnv) -> Callable[[dict[str, Any]], gym.Env]:
    """What makes the env from an env_config, a gymnasium id's (which has no creator) too."""
    return resolved.creator or functools.partial(_make_gym_env, resolved.rllib_env)


def _make_gym_env(env_id: str, env_config: dict[str, Any]) -> gym.Env:
    return gym.make(env_id, **env_config)


def _make_scaled(make_env: Callable[[dict[str, Any]], gym.Env], env_config: dict[str, Any]):
    return ScaledImages(make_env(env_config))


def _resolved(spec, name, creator, env, threshold) -> ResolvedEnv:
    try:
        return ResolvedEnv(spec, name, creator, env.observation_space, env.action_space, threshold)
    finally:
        env.close()


def _resolved_multi_agent(spec: str, creator: Callable, env: Any) -> ResolvedEnv:
    try:
        agents = multi_agent.agents_of(env, spec)
    finally:
        env.close()
    return ResolvedEnv(
        spec,
        spec,
        creator,
        gym.spaces.Dict(agents.observation_spaces),
        gym.spaces.Dict(agents.action_spaces),
        None,
        agents,
    )


# What a module named alone (`rl_env=my_game`) builds, in this order: PettingZoo's convention.
MODULE_FACTORIES = ("parallel_env", "env")


def _module_factory(spec: str) -> str | None:
    """`module:factory` for a module named alone that has one of MODULE_FACTORIES."""
    if not spec.replace(".", "").replace("_", "").isalnum():
        return None
    try:
        module = importlib.import_module(spec)
    except Exception:
        return None
    for name in MODULE_FACTORIES:
        if callable(getattr(module, name, None)):
            logger.info("rl_env %s: the module's %s() builds the env", spec, name)
            return f"{spec}:{name}"
    return None


def _import_factory(spec: str) -> Callable[..., gym.Env] | None:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name.split(".")[0] and error.name != module_name:
            raise UserError(f"rl_env {spec!r}: importing {module_name} failed: {error}") from None
        try:  # gymnasium's own "module:EnvId" form, e.g. ale_py:ALE/Pong-v5
            gym.spec(spec)
        except Exception:
            raise UserError(
                f"rl_env {spec!r}: no module named {module_name!r}; put {module_name}.py in the "
                f"source directory (sagemaker_submit_directory) or install it in the image"
            ) from None
        return None
    except Exception as error:
        raise UserError(
            f"rl_env {spec!r}: importing {module_name} failed: {type(error).__name__}: {error}"
        ) from None
    if not attribute:
        raise UserError(f"rl_env {spec!r}: name the class or factory after the colon")
    factory = getattr(module, attribute, None)
    if factory is None:
        if _is_gym_id(spec):
            return None
        raise UserError(f"rl_env {spec!r}: module {module_name} has no attribute {attribute!r}")
    if not callable(factory):
        raise UserError(f"rl_env {spec!r}: {attribute} is not a class or function")
    return factory


def _is_gym_id(spec: str) -> bool:
    try:
        gym.spec(spec)
    except Exception:
        return False
    return True


def _gym_spec(spec: str) -> gym.envs.registration.EnvSpec:
    try:
        return gym.spec(spec)
    except Exception as error:
        close = difflib.get_close_matches(spec, list(gym.registry), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise UserError(
            f"rl_env {spec!r} is not a registered gymnasium environment{hint}; use a gymnasium "
            f"id or module:Class from the source directory ({type(error).__name__})"
        ) from None


def _build(spec: str, make: Callable[[], gym.Env]) -> gym.Env:
    try:
        env = make()
    except UserError:
        raise
    except Exception as error:
        raise UserError(
            f"rl_env {spec!r} could not be created: {type(error).__name__}: {error}"
        ) from None
    if gym_compat.api_of(env) is not None or multi_agent.is_multi_agent(env):
        return env  # wrapped by the caller, or described by its agents
    if not isinstance(getattr(env, "observation_space", None), gym.Space) or not isinstance(
        getattr(env, "action_space", None), gym.Space
    ):
        raise UserError(
            f"rl_env {spec!r} did not build a gymnasium environment with observation_space and "
            f"action_space (got {type(env).__name__})"
        )
    return env
