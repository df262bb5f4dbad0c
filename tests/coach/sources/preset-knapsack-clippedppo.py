"""Clipped PPO on the custom knapsack environment of this source directory (`module:Class`)."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(2)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(256)
schedule_params.evaluation_steps = EnvironmentEpisodes(2)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
agent_params.network_wrappers["main"].input_embedders_parameters["observation"].scheme = [Dense(32)]
agent_params.network_wrappers["main"].middleware_parameters.scheme = [Dense(32)]
agent_params.network_wrappers["main"].batch_size = 64
agent_params.algorithm.optimization_epochs = 2
agent_params.algorithm.num_consecutive_playing_steps = EnvironmentSteps(256)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="knapsack_env:KnapsackEnv"),
    schedule_params=schedule_params,
)
