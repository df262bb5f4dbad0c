"""Clipped PPO on the object tracker, written for distributed Coach as the object-tracker
notebook's preset was: it names its synchronization type (on-policy: the rollout workers wait
for each new policy). The job's instance_count decides how many hosts play."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.base_parameters import DistributedCoachSynchronizationType
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.filters.observation.observation_normalization_filter import (
    ObservationNormalizationFilter,
)
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(40)  # playing periods of 2,000 steps each
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(2000)
schedule_params.evaluation_steps = EnvironmentEpisodes(5)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
network = agent_params.network_wrappers["main"]
network.learning_rate = 0.0003
network.input_embedders_parameters["observation"].activation_function = "tanh"
network.input_embedders_parameters["observation"].scheme = [Dense(64)]
network.middleware_parameters.scheme = [Dense(64)]
network.middleware_parameters.activation_function = "tanh"
network.batch_size = 64
agent_params.algorithm.num_consecutive_playing_steps = EnvironmentSteps(2000)
agent_params.algorithm.discount = 0.95
agent_params.algorithm.gae_lambda = 0.95
agent_params.algorithm.optimization_epochs = 10
agent_params.algorithm.beta_entropy = 0.01
agent_params.algorithm.distributed_coach_synchronization_type = (
    DistributedCoachSynchronizationType.SYNC
)
agent_params.pre_network_filter.add_observation_filter(
    "observation",
    "normalize_observation",
    ObservationNormalizationFilter(name="normalize_observation"),
)

env_params = GymVectorEnvironment(level="tracker_env:ObjectTracker")
# Each step costs 1 ms of "simulation", as a simulator's would (more).
env_params.additional_simulator_parameters = {"step_ms": 1}

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=env_params,
    schedule_params=schedule_params,
)
