"""Clipped PPO on MountainCar-v0 through the shaped wrapper of this source directory
(mountain_car.py). Each evaluation period is 2048 steps of acting (about 10 episodes of at most
200 steps) and one PPO update, then `evaluation_steps` greedy episodes on the shaped reward."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.schedules import LinearSchedule

STEPS_PER_ITERATION = 2048
DISCOUNT = 0.99

schedule_params = ScheduleParameters()
schedule_params.improve_steps = EnvironmentSteps(40 * STEPS_PER_ITERATION)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(STEPS_PER_ITERATION)
schedule_params.evaluation_steps = EnvironmentEpisodes(5)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
main = agent_params.network_wrappers["main"]
main.learning_rate = 0.001
main.input_embedders_parameters["observation"].scheme = [Dense(64)]
main.input_embedders_parameters["observation"].activation_function = "tanh"
main.middleware_parameters.scheme = [Dense(64)]
main.middleware_parameters.activation_function = "tanh"
main.batch_size = 128

algorithm = agent_params.algorithm
algorithm.discount = DISCOUNT
algorithm.gae_lambda = 0.95
algorithm.clip_likelihood_ratio_using_epsilon = 0.2
algorithm.clipping_decay_schedule = LinearSchedule(1.0, 0, 1000000)
algorithm.beta_entropy = 0.01
algorithm.optimization_epochs = 10
algorithm.num_consecutive_playing_steps = EnvironmentSteps(STEPS_PER_ITERATION)
algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(STEPS_PER_ITERATION)

env_params = GymVectorEnvironment(level="mountain_car:ShapedMountainCar")
# The shaping's discount must be the agent's for the optimal policy to stay the same.
env_params.additional_simulator_parameters = {"shaping_scale": 50.0, "gamma": DISCOUNT}

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=env_params,
    schedule_params=schedule_params,
)
