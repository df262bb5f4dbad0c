"""Clipped PPO on the online knapsack of this source directory (knapsack.py), named as the
preset's level `module:Class` like the notebook's custom environment."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

STEPS_PER_ITERATION = 2000  # 100 episodes of 20 items

schedule_params = ScheduleParameters()
schedule_params.improve_steps = EnvironmentSteps(30 * STEPS_PER_ITERATION)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(STEPS_PER_ITERATION)
schedule_params.evaluation_steps = EnvironmentEpisodes(20)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
main = agent_params.network_wrappers["main"]
main.learning_rate = 0.001
main.input_embedders_parameters["observation"].scheme = [Dense(64)]
main.input_embedders_parameters["observation"].activation_function = "tanh"
main.middleware_parameters.scheme = [Dense(64)]
main.middleware_parameters.activation_function = "tanh"
main.batch_size = 100

algorithm = agent_params.algorithm
algorithm.discount = 1.0  # the return is the value packed
algorithm.gae_lambda = 0.95
algorithm.beta_entropy = 0.01
algorithm.optimization_epochs = 10
algorithm.num_consecutive_playing_steps = EnvironmentSteps(STEPS_PER_ITERATION)
algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(STEPS_PER_ITERATION)

env_params = GymVectorEnvironment(level="knapsack:Knapsack")
env_params.additional_simulator_parameters = {"items": 20, "capacity": 30}

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=env_params,
    schedule_params=schedule_params,
)
