"""DQN on an Attention action space (action_space_envs.Spotlight), through Coach's
AttentionDiscretization output filter: the agent picks one of a grid of boxes, the filter
sends that box to the environment."""

from action_space_envs import SpotlightParameters
from rl_coach.agents.dqn_agent import DQNAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.filters.action.attention_discretization import AttentionDiscretization
from rl_coach.filters.filter import OutputFilter
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.schedules import LinearSchedule

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(4000)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(1000)
schedule_params.evaluation_steps = EnvironmentEpisodes(10)
schedule_params.heatup_steps = EnvironmentSteps(200)

agent_params = DQNAgentParameters()
agent_params.network_wrappers["main"].input_embedders_parameters["observation"].scheme = [Dense(32)]
agent_params.network_wrappers["main"].middleware_parameters.scheme = [Dense(32)]
agent_params.algorithm.discount = 0.0  # one step an episode
agent_params.algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(100)
agent_params.exploration.epsilon_schedule = LinearSchedule(1.0, 0.05, 1500)
agent_params.output_filter = OutputFilter(
    action_filters={"discretize_boxes": AttentionDiscretization(num_bins_per_dimension=3)}
)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params, env_params=SpotlightParameters(), schedule_params=schedule_params
)
