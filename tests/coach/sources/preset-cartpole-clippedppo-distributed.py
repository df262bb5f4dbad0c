"""Clipped PPO on CartPole-v0 written for Coach's own `--distributed_coach` (Kubernetes): it names
its synchronization type, a Redis pub/sub memory backend and an S3 data store. On SageMaker the
job's Redis on the head host takes the place of both."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.base_parameters import DistributedCoachSynchronizationType
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.data_stores.data_store import DataStoreParameters
from rl_coach.data_stores.s3_data_store import S3DataStoreParameters
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.memories.backend.redis import RedisPubSubMemoryBackendParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(100)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(2048)
schedule_params.evaluation_steps = EnvironmentEpisodes(5)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
agent_params.algorithm.distributed_coach_synchronization_type = (
    DistributedCoachSynchronizationType.SYNC
)
agent_params.memory.register_var(
    "memory_backend_params",
    RedisPubSubMemoryBackendParameters(redis_address="redis-service", redis_port=6379),
)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="CartPole-v0"),
    schedule_params=schedule_params,
)
graph_manager.data_store_params = S3DataStoreParameters(
    ds_params=DataStoreParameters("s3", "kubernetes", {}),
    end_point="s3.amazonaws.com",
    bucket_name="a-bucket-this-job-never-reaches",
    checkpoint_dir="/checkpoint",
)
