"""Clipped PPO with continuous actions: Pendulum-v0 (gym 0.12), one torque in [-2, 2].

Written the way SageMaker's continuous mountain-car Coach example writes its preset: Clipped
PPO's Gaussian policy head, observations normalized before the network, GAE.
"""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.filters.observation.observation_normalization_filter import (
    ObservationNormalizationFilter,
)
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.schedules import LinearSchedule

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(10000)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(2000)
schedule_params.evaluation_steps = EnvironmentEpisodes(1)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
network = agent_params.network_wrappers["main"]
network.learning_rate = 0.0003
network.input_embedders_parameters["observation"].activation_function = "tanh"
network.input_embedders_parameters["observation"].scheme = [Dense(64)]
network.middleware_parameters.scheme = [Dense(64)]
network.middleware_parameters.activation_function = "tanh"
network.batch_size = 64
agent_params.algorithm.clip_likelihood_ratio_using_epsilon = 0.2
agent_params.algorithm.clipping_decay_schedule = LinearSchedule(1.0, 0, 1000000)
agent_params.algorithm.beta_entropy = 0
agent_params.algorithm.gae_lambda = 0.95
agent_params.algorithm.discount = 0.99
agent_params.algorithm.optimization_epochs = 10
agent_params.algorithm.estimate_state_value_using_gae = True
agent_params.algorithm.num_consecutive_playing_steps = EnvironmentSteps(2000)
agent_params.algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(2000)
agent_params.pre_network_filter.add_observation_filter(
    "observation",
    "normalize_observation",
    ObservationNormalizationFilter(name="normalize_observation"),
)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="Pendulum-v0"),
    schedule_params=schedule_params,
)
