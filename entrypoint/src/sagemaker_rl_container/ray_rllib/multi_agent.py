"""Multi-agent environments: RLlib `MultiAgentEnv`s and PettingZoo's (AEC or parallel API), the
policies their agents map to, and the `rl.multi_agent.*` settings that choose them.

Zero-code, agents that share their observation and action spaces share one policy ("shared");
otherwise each group of agents with the same spaces gets one policy, named after the group's
agents ("adversary_0" and "adversary_1": "adversary"). `rl.multi_agent.policy_mapping` maps
agents (ids, or fnmatch patterns such as "adversary_*") to policies of the user's naming, and
`rl.multi_agent.policies_to_train` lists the policies that learn (the others act as initialised).
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from sagemaker_rl_container.errors import UserError, shown

# The `rl.multi_agent.*` settings read here, not passed to `config.multi_agent()` as they are.
POLICY_MAPPING = "multi_agent.policy_mapping"
POLICIES_TO_TRAIN = "multi_agent.policies_to_train"
OWN_SETTINGS = (POLICY_MAPPING, POLICIES_TO_TRAIN)
# RLlib's own forms of the same choice, which a hyperparameter cannot carry (a function) or
# which would contradict the mapping.
REPLACED_SETTINGS = ("multi_agent.policies", "multi_agent.policy_mapping_fn")
SHARED_POLICY = "shared"


@dataclass(frozen=True)
class Agents:
    """Each agent's observation and action space, in the env's order of agents."""

    observation_spaces: dict[str, gym.Space]
    action_spaces: dict[str, gym.Space]

    @property
    def ids(self) -> list[str]:
        return list(self.observation_spaces)

    def spaces(self, agent: str) -> tuple[gym.Space, gym.Space]:
        return self.observation_spaces[agent], self.action_spaces[agent]


@dataclass(frozen=True)
class PolicyPlan:
    """Which policy each agent acts with, each policy's spaces, and which policies train."""

    mapping: dict[str, str]
    spaces: dict[str, tuple[gym.Space, gym.Space]]
    trained: tuple[str, ...]

    @property
    def policies(self) -> list[str]:
        return list(self.spaces)

    def agents_of(self, policy: str) -> list[str]:
        return [agent for agent, mapped in self.mapping.items() if mapped == policy]

    @property
    def agents_by_policy(self) -> dict[str, list[str]]:
        return {policy: self.agents_of(policy) for policy in self.policies}

    def describe(self) -> str:
        parts = []
        for policy in self.policies:
            note = "" if policy in self.trained else ", not trained"
            parts.append(f"{policy} ({', '.join(self.agents_of(policy))}{note})")
        return "; ".join(parts)


class AgentToPolicy:
    """RLlib's `policy_mapping_fn` for a fixed mapping (a class, so Ray can pickle it)."""

    def __init__(self, mapping: dict[str, str]) -> None:
        self.mapping = dict(mapping)

    def __call__(self, agent_id: Any, *args: Any, **kwargs: Any) -> str:
        return self.mapping[str(agent_id)]


@functools.cache
def _pettingzoo_classes() -> tuple[type, ...]:
    """PettingZoo's env base classes; none where it is not installed (looked up once: a failed
    import is not remembered, and every env the job builds asks)."""
    try:
        from pettingzoo.utils.env import AECEnv, ParallelEnv
    except ImportError:
        return ()
    return (AECEnv, ParallelEnv)


def is_pettingzoo(env: Any) -> bool:
    return isinstance(env, _pettingzoo_classes())


def is_multi_agent(env: Any) -> bool:
    from ray.rllib.env.multi_agent_env import MultiAgentEnv

    return isinstance(env, MultiAgentEnv) or is_pettingzoo(env)


def as_rllib_env(env: Any) -> Any:
    """A PettingZoo env in RLlib's wrapper for its API; an RLlib MultiAgentEnv as it is."""
    if not is_pettingzoo(env):
        return env
    from pettingzoo.utils.env import ParallelEnv
    from ray.rllib.env.wrappers.pettingzoo_env import ParallelPettingZooEnv, PettingZooEnv

    wrapped = ParallelPettingZooEnv(env) if isinstance(env, ParallelEnv) else PettingZooEnv(env)
    # RLlib's wrappers list the agents from a set, in an order that changes from one process to
    # the next; the env's own order names the same agents steadily (logs, default policies).
    ordered = [agent for agent in env.possible_agents or [] if agent in set(wrapped.agents)]
    if ordered and set(ordered) == set(wrapped.agents):
        wrapped.agents, wrapped.possible_agents = ordered, list(ordered)
    return wrapped


def agents_of(env: Any, spec: str) -> Agents:
    """The agents of an RLlib MultiAgentEnv (a PettingZoo env already wrapped)."""
    agents = [str(agent) for agent in (env.possible_agents or env.agents or [])]
    if not agents:
        raise UserError(f"rl_env {spec!r} is a multi-agent env that names no agents")
    observations, actions = {}, {}
    for agent in agents:
        try:
            observations[agent] = env.get_observation_space(agent)
            actions[agent] = env.get_action_space(agent)
        except Exception as error:
            raise UserError(
                f"rl_env {spec!r}: agent {agent!r} has no observation or action space "
                f"({type(error).__name__}: {error}); set the env's observation_spaces and "
                f"action_spaces"
            ) from None
    return Agents(observations, actions)


def plan(agents: Agents, overrides: dict[str, Any], spec: str) -> PolicyPlan:
    """The policies for `agents`: the user's mapping where given, else one per group of agents
    with the same spaces; every mistake fails here in one line naming the agent or policy."""
    for key in REPLACED_SETTINGS:
        if key in overrides:
            raise UserError(
                f"hyperparameter rl.{key}: map agents to policies with "
                f'rl.{POLICY_MAPPING}={{"agent_id": "policy", ...}} (agent ids or patterns '
                f'like "red_*"); the policies are the names it maps to'
            )
    if POLICY_MAPPING in overrides:
        mapping = _user_mapping(agents, overrides[POLICY_MAPPING], spec)
    else:
        mapping = _default_mapping(agents)
    spaces: dict[str, tuple[gym.Space, gym.Space]] = {}
    first: dict[str, str] = {}
    for agent, policy in mapping.items():
        if policy not in spaces:
            spaces[policy], first[policy] = agents.spaces(agent), agent
        elif not _same_spaces(spaces[policy], agents.spaces(agent)):
            observation, action = agents.spaces(agent)
            raise UserError(
                f"rl.{POLICY_MAPPING}: agent {agent!r} (observations {observation}, actions "
                f"{action}) cannot share policy {policy!r} with agent {first[policy]!r}, whose "
                f"spaces differ: map it to a policy of its own"
            )
    trained = _trained(overrides.get(POLICIES_TO_TRAIN), list(spaces))
    return PolicyPlan(mapping, spaces, trained)


def configure(config: Any, policy_plan: PolicyPlan) -> None:
    """Give RLlib the policies, the agents' mapping to them, and those that train."""
    config.multi_agent(
        policies=set(policy_plan.policies),
        policy_mapping_fn=AgentToPolicy(policy_plan.mapping),
        policies_to_train=list(policy_plan.trained),
    )


def from_algorithm(algo: Any) -> PolicyPlan | None:
    """A script's own multi-agent config, as built: each policy's spaces from its module, and
    each agent's policy as the script's mapping function names it (asked once per agent of a
    fresh env); None where the config is single-agent or the agents cannot be listed."""
    config = algo.config
    if not (config.is_multi_agent and config.enable_rl_module_and_learner):
        return None
    try:
        env = as_rllib_env(algo.env_creator(config.env_config))
        try:
            agents = [str(agent) for agent in (env.possible_agents or env.agents or [])]
        finally:
            env.close()
        mapping = {agent: str(config.policy_mapping_fn(agent, None)) for agent in agents}
    except Exception:
        return None
    spaces = {}
    for policy in dict.fromkeys(mapping.values()):
        module = algo.get_module(policy)
        if module is None:
            return None
        spaces[policy] = (module.observation_space, module.action_space)
    trained = config.policies_to_train
    if trained is None or callable(trained):
        trained = list(spaces)
    return PolicyPlan(mapping, spaces, tuple(name for name in spaces if name in set(trained)))


def _same_spaces(one: tuple[gym.Space, gym.Space], other: tuple[gym.Space, gym.Space]) -> bool:
    return one[0] == other[0] and one[1] == other[1]


def _default_mapping(agents: Agents) -> dict[str, str]:
    groups: list[list[str]] = []
    for agent in agents.ids:
        for group in groups:
            if _same_spaces(agents.spaces(group[0]), agents.spaces(agent)):
                group.append(agent)
                break
        else:
            groups.append([agent])
    if len(groups) == 1:
        return dict.fromkeys(agents.ids, SHARED_POLICY)
    names = [_group_name(group) for group in groups]
    if len(set(names)) < len(names):  # two groups' agents are named alike: the first agent's id
        names = [group[0] for group in groups]
    return {agent: name for group, name in zip(groups, names, strict=True) for agent in group}


def _group_name(group: list[str]) -> str:
    """What a group's agents are called without their number: adversary_0 -> adversary."""
    stems = {re.sub(r"[_-]?\d+$", "", agent) or agent for agent in group}
    return stems.pop() if len(stems) == 1 else group[0]


def _user_mapping(agents: Agents, value: Any, spec: str) -> dict[str, str]:
    key = f"rl.{POLICY_MAPPING}"
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(policy, str) and policy for policy in value.values())
    ):
        raise UserError(
            f'hyperparameter {key}={shown(value)}: expected an object {{"agent_id": "policy", '
            f'...}} mapping agent ids (or patterns like "red_*") to policy names'
        )
    listed = ", ".join(agents.ids)
    for pattern in value:
        if not any(_matches(agent, pattern) for agent in agents.ids):
            raise UserError(
                f"hyperparameter {key}: rl_env {spec!r} has no agent {pattern!r} (its agents: "
                f"{listed})"
            )
    mapping = {}
    for agent in agents.ids:
        # An agent's own id wins over a pattern; among patterns, the first given.
        policy = value.get(agent) or next(
            (policy for pattern, policy in value.items() if _matches(agent, pattern)), None
        )
        if policy is None:
            raise UserError(
                f"hyperparameter {key} maps no policy to agent {agent!r} of rl_env {spec!r}: "
                f'add "{agent}": "<policy>" (or a pattern that matches it)'
            )
        mapping[agent] = policy
    return mapping


def _matches(agent: str, pattern: str) -> bool:
    return agent == pattern or fnmatch.fnmatchcase(agent, pattern)


def _trained(value: Any, policies: list[str]) -> tuple[str, ...]:
    if value is None:
        return tuple(policies)
    key = f"rl.{POLICIES_TO_TRAIN}"
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise UserError(f"hyperparameter {key}={shown(value)}: expected a list of policy names")
    unknown = [name for name in value if name not in policies]
    if unknown:
        raise UserError(
            f"hyperparameter {key}: no policy {unknown[0]!r}; the policies are "
            f"{', '.join(policies)}"
        )
    if not value:
        raise UserError(f"hyperparameter {key}=[]: name at least one policy to train")
    return tuple(value)
