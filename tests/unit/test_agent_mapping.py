"""Which policy each agent of a multi-agent env acts with (ray_rllib/multi_agent.py)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import multi_agent
from sagemaker_rl_container.ray_rllib.trainer import _policy_plan

BOX3 = gym.spaces.Box(0.0, 1.0, (3,), np.float32)
BOX4 = gym.spaces.Box(0.0, 1.0, (4,), np.float32)


def agents(**spaces: tuple[gym.Space, gym.Space]) -> multi_agent.Agents:
    return multi_agent.Agents(
        {agent: obs for agent, (obs, _) in spaces.items()},
        {agent: act for agent, (_, act) in spaces.items()},
    )


ADVERSARY = agents(
    adversary_0=(BOX4, gym.spaces.Discrete(2)),
    agent_0=(BOX3, gym.spaces.Discrete(5)),
    agent_1=(BOX3, gym.spaces.Discrete(5)),
)


def test_agents_that_share_spaces_share_one_policy():
    same = agents(red=(BOX3, gym.spaces.Discrete(3)), blue=(BOX3, gym.spaces.Discrete(3)))
    plan = multi_agent.plan(same, {}, "env")
    assert plan.mapping == {"red": "shared", "blue": "shared"}
    assert plan.trained == ("shared",)


def test_groups_of_agents_with_their_own_spaces_get_a_policy_each_named_for_the_group():
    plan = multi_agent.plan(ADVERSARY, {}, "env")
    assert plan.mapping == {"adversary_0": "adversary", "agent_0": "agent", "agent_1": "agent"}
    assert plan.spaces["agent"] == (BOX3, gym.spaces.Discrete(5))
    assert plan.describe() == "adversary (adversary_0); agent (agent_0, agent_1)"


def test_groups_named_alike_are_named_by_their_first_agent():
    alike = agents(a_0=(BOX3, gym.spaces.Discrete(3)), a_1=(BOX4, gym.spaces.Discrete(3)))
    assert multi_agent.plan(alike, {}, "env").mapping == {"a_0": "a_0", "a_1": "a_1"}


def test_the_users_mapping_takes_ids_and_patterns_an_id_first():
    overrides = {
        "multi_agent.policy_mapping": {"agent_*": "team", "agent_1": "solo", "adv*": "adv"},
        "multi_agent.policies_to_train": ["team"],
    }
    plan = multi_agent.plan(ADVERSARY, overrides, "env")
    assert plan.mapping == {"adversary_0": "adv", "agent_0": "team", "agent_1": "solo"}
    assert plan.trained == ("team",)
    assert (
        plan.describe()
        == "adv (adversary_0, not trained); team (agent_0); solo (agent_1, not trained)"
    )
    mapped = multi_agent.AgentToPolicy(plan.mapping)
    assert mapped("agent_1", None) == "solo" and mapped("adversary_0", episode=None) == "adv"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"multi_agent.policy_mapping": "team"}, "expected an object"),
        (
            {"multi_agent.policy_mapping": {"agent_*": "team"}},
            "maps no policy to agent 'adversary_0'",
        ),
        (
            {"multi_agent.policy_mapping": {"*": "all"}},
            "agent 'agent_0' (observations Box(0.0, 1.0, (3,), float32), actions Discrete(5)) "
            "cannot share policy 'all' with agent 'adversary_0'",
        ),
        (
            {"multi_agent.policies_to_train": ["agents"]},
            "no policy 'agents'; the policies are adversary, agent",
        ),
        ({"multi_agent.policies_to_train": []}, "name at least one policy to train"),
        (
            {"multi_agent.policies": ["a", "b"]},
            "map agents to policies with rl.multi_agent.policy_mapping",
        ),
    ],
)
def test_a_choice_that_does_not_fit_the_agents_fails_in_one_line(overrides, message):
    with pytest.raises(UserError, match=None) as raised:
        multi_agent.plan(ADVERSARY, overrides, "env")
    assert message in str(raised.value) and "\n" not in str(raised.value)


class _Env:
    def __init__(self, spec, agents=None):
        self.spec, self.agents = spec, agents


class _Job:
    def __init__(self, overrides):
        self.overrides = overrides


def test_the_mapping_needs_a_multi_agent_env_and_the_torch_stack():
    with pytest.raises(UserError, match="'CartPole-v1' is a single-agent env"):
        _policy_plan(_Job({"multi_agent.policy_mapping": {"a": "b"}}), _Env("CartPole-v1"), None)
    with pytest.raises(UserError, match="use a ray-pytorch image"):
        _policy_plan(_Job({}), _Env("game", ADVERSARY), "tf2")
    assert _policy_plan(_Job({}), _Env("game", ADVERSARY), "torch").policies == [
        "adversary",
        "agent",
    ]
