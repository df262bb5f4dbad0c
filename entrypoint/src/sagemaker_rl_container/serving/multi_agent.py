"""A multi-agent job's export served: each agent's observation answered by the policy its agent
acts with (metadata.json's `multi_agent` mapping, one ONNX file per policy).

Request (JSON): `{"agent_id": observation, ...}`, each observation one or a batch; or
`{"observations": {"agent_id": ...}, "include": ["action_probs"]}`.
Answer: `{"agent_id": {"actions": ...}, ...}`, with the outputs asked for beside the actions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sagemaker_rl_container.serving.codecs import (
    JSON,
    UnsupportedMediaType,
    dump_json,
    included,
    shown_outputs,
)
from sagemaker_rl_container.serving.policy import (
    BadRequest,
    ModelLoadError,
    OnnxPolicy,
    Policy,
    Prediction,
)


class MultiAgentPolicy:
    def __init__(self, model_dir: Path, metadata: dict[str, Any], threads: int = 1) -> None:
        described = metadata["multi_agent"]
        self.mapping: dict[str, str] = dict(described["mapping"])
        self.policies: dict[str, Policy] = {}
        for name, entry in described["policies"].items():
            if not entry.get("onnx"):
                why = (metadata.get("not_exported") or {}).get(f"ONNX of policy {name}")
                raise ModelLoadError(
                    f"policy {name!r} of this multi-agent model has no ONNX file"
                    f"{f' (not exported: {why})' if why else ''}: nothing to serve it with"
                )
            self.policies[name] = OnnxPolicy(model_dir, {"onnx": entry["onnx"]}, threads)
        self.outputs = sorted({out for policy in self.policies.values() for out in policy.outputs})

    @property
    def agents(self) -> list[str]:
        return list(self.mapping)

    def predict(self, observations: Any, include: set[str] = frozenset()) -> dict[str, Prediction]:
        """Each agent's prediction by its policy; a request that names an agent the model does
        not have, or fits no agent's policy, is refused naming the agent."""
        if not isinstance(observations, dict) or not observations:
            raise BadRequest(
                f'a multi-agent policy takes {{"agent_id": observation, ...}}; its agents: '
                f"{', '.join(self.agents)}"
            )
        predictions = {}
        for agent, observation in observations.items():
            policy = self.mapping.get(agent)
            if policy is None:
                raise BadRequest(
                    f"no agent {agent!r} in this model; its agents: {', '.join(self.agents)}"
                )
            try:
                predictions[agent] = self.policies[policy].predict(observation, include)
            except BadRequest as error:
                raise BadRequest(f"agent {agent!r} (policy {policy!r}): {error}") from None
        return predictions


def answer(policy: MultiAgentPolicy, body: bytes, content_type: str, asked: set[str]) -> bytes:
    """A JSON request's answer, agent by agent."""
    if content_type != JSON:
        raise UnsupportedMediaType(
            f'content type {content_type!r}: a multi-agent policy takes {JSON}, {{"agent_id": '
            f"observation, ...}}"
        )
    try:
        data = json.loads(body)
    except ValueError as error:
        raise BadRequest(f"the body is not valid JSON: {error}") from None
    include = set(asked)
    if isinstance(data, dict) and "observations" in data:
        include |= included(data)
        data = data["observations"]
    shown = {"actions", *include}
    return dump_json(
        {
            agent: shown_outputs(prediction, shown)
            for agent, prediction in policy.predict(data, include).items()
        }
    )
