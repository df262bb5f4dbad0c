"""What a Coach preset needs to run distributed: its synchronization type (the preset's, or the
default for its agent), and its memory backend and data store pointed at this job's Redis.
Coach's pub/sub drops what is published while the trainer trains; the experience list
(data_store.py) keeps it, and a SYNC (on-policy) trainer discards what an older policy played.
"""

from __future__ import annotations

import logging
from typing import Any

from sagemaker_rl_container.coach.data_store import COACH_CHANNEL, REDIS_PORT
from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

# Agents distributed Coach runs without the preset naming a synchronization type: on-policy
# ones wait for each new policy (SYNC), off-policy ones keep playing (ASYNC). Coach's own
# distributed presets set the type themselves (CartPole_ClippedPPO: SYNC).
DEFAULT_SYNCHRONIZATION = {
    "ClippedPPOAgentParameters": "SYNC",
    "PPOAgentParameters": "SYNC",
    "DQNAgentParameters": "ASYNC",
    "DDQNAgentParameters": "ASYNC",
    "QuantileRegressionDQNAgentParameters": "ASYNC",
    "RainbowDQNAgentParameters": "ASYNC",
    "DDPGAgentParameters": "ASYNC",
    "TD3AgentParameters": "ASYNC",
    "SoftActorCriticAgentParameters": "ASYNC",
}


def synchronization(graph_manager: Any, preset: str) -> Any:
    """The preset's `DistributedCoachSynchronizationType`, or the default for its agent; one
    line naming why when the preset cannot run distributed."""
    from rl_coach.base_parameters import DistributedCoachSynchronizationType

    agents_params = getattr(graph_manager, "agents_params", None)
    if agents_params is not None and len(agents_params) != 1:
        raise UserError(
            f"preset {preset}: distributed Coach trains one agent, this preset's graph has "
            f"{len(agents_params)} (hierarchical presets train on one host: set "
            f"instance_count=1)"
        )
    if getattr(graph_manager, "env_params", None) is None:
        raise UserError(
            f"preset {preset}: batch RL trains from a dataset, with no environment for rollout "
            f"workers to play: train it on one host (instance_count=1)"
        )
    agent_params = graph_manager.agent_params
    chosen = agent_params.algorithm.distributed_coach_synchronization_type
    if chosen is not None:
        return chosen
    kind = type(agent_params).__name__
    default = DEFAULT_SYNCHRONIZATION.get(kind)
    if default is None:
        supported = ", ".join(k.replace("Parameters", "") for k in DEFAULT_SYNCHRONIZATION)
        raise UserError(
            f"preset {preset}: {kind.replace('Parameters', '')} has no distributed Coach "
            f"synchronization type (distributed here: {supported}); set "
            f"agent_params.algorithm.distributed_coach_synchronization_type in the preset if "
            f"it can run distributed, or train on one host (instance_count=1)"
        )
    logger.info(
        "Distributed Coach: %s rollouts are %s (the preset sets no synchronization type)",
        kind.replace("AgentParameters", ""),
        default,
    )
    return DistributedCoachSynchronizationType[default]


def configure(graph_manager: Any, run_type: str, head_ip: str, sync: Any) -> None:
    """Coach's distributed settings on the preset, before its graph is created: its memory
    backend names the head's Redis (observation-normalization statistics are shared through
    it), and a data store of the preset (S3, NFS) gives way to the job's Redis."""
    from rl_coach.memories.backend.redis import RedisPubSubMemoryBackendParameters

    params = RedisPubSubMemoryBackendParameters(
        redis_address=head_ip,
        redis_port=REDIS_PORT,
        channel=COACH_CHANNEL,
        run_type=run_type,
        deployed=True,
    )
    agent_params = graph_manager.agent_params
    if hasattr(agent_params.memory, "memory_backend_params"):
        logger.info("The preset's memory backend gives way to this job's Redis on the head")
        agent_params.memory.memory_backend_params = params
    else:
        agent_params.memory.register_var("memory_backend_params", params)
    agent_params.algorithm.distributed_coach_synchronization_type = sync
    if hasattr(graph_manager, "data_store_params"):
        logger.info(
            "The preset's data store (%s) gives way to this job's Redis: policies reach the "
            "rollout workers over the job's network",
            type(graph_manager.data_store_params).__name__,
        )
        del graph_manager.data_store_params
    graph_manager.data_store = None
