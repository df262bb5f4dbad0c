"""Clipped PPO on gym's CartPole-v0 (solved at a mean return of 195 over evaluation episodes).

Each evaluation period is 2048 environment steps of acting (one PPO batch, 10 epochs over it),
then `evaluation_steps` greedy episodes. The job stops at the environment's success threshold
when `rl_apply_stop_condition=true`, else after `improve_steps`."""

from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.filters.filter import InputFilter
from rl_coach.filters.observation.observation_normalization_filter import (
    ObservationNormalizationFilter,
)
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.schedules import LinearSchedule

STEPS_PER_ITERATION = 2048

schedule_params = ScheduleParameters()
schedule_params.improve_steps = EnvironmentSteps(100 * STEPS_PER_ITERATION)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(STEPS_PER_ITERATION)
schedule_params.evaluation_steps = EnvironmentEpisodes(10)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ClippedPPOAgentParameters()
main = agent_params.network_wrappers["main"]
main.learning_rate = 0.0003
main.input_embedders_parameters["observation"].scheme = [Dense(64)]
main.input_embedders_parameters["observation"].activation_function = "tanh"
main.middleware_parameters.scheme = [Dense(64)]
main.middleware_parameters.activation_function = "tanh"
main.batch_size = 64
main.optimizer_epsilon = 1e-5
main.adam_optimizer_beta2 = 0.999

algorithm = agent_params.algorithm
algorithm.discount = 0.99
algorithm.gae_lambda = 0.95
algorithm.clip_likelihood_ratio_using_epsilon = 0.2
algorithm.clipping_decay_schedule = LinearSchedule(1.0, 0, 1000000)
algorithm.beta_entropy = 0
algorithm.optimization_epochs = 10
algorithm.estimate_state_value_using_gae = True
algorithm.num_consecutive_playing_steps = EnvironmentSteps(STEPS_PER_ITERATION)
algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(STEPS_PER_ITERATION)

# Normalize observations with running statistics (exported in model/metadata.json).
agent_params.pre_network_filter = InputFilter()
agent_params.pre_network_filter.add_observation_filter(
    "observation", "normalize", ObservationNormalizationFilter(name="normalize_observation")
)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="CartPole-v0"),
    schedule_params=schedule_params,
)
