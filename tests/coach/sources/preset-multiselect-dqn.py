"""DQN on a MultiSelect action space (action_space_envs.Lamps), as Coach's Doom presets
drive one: the FullDiscreteActionSpaceMap output filter numbers every allowed set of lamps,
the Q head scores each number, and the filter sends that set to the environment."""

from action_space_envs import LampsParameters
from rl_coach.agents.dqn_agent import DQNAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.filters.action.full_discrete_action_space_map import FullDiscreteActionSpaceMap
from rl_coach.filters.filter import OutputFilter
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.schedules import LinearSchedule

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(4000)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(1000)
schedule_params.evaluation_steps = EnvironmentEpisodes(2)
schedule_params.heatup_steps = EnvironmentSteps(200)

agent_params = DQNAgentParameters()
agent_params.network_wrappers["main"].input_embedders_parameters["observation"].scheme = [Dense(32)]
agent_params.network_wrappers["main"].middleware_parameters.scheme = [Dense(32)]
agent_params.algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(100)
agent_params.exploration.epsilon_schedule = LinearSchedule(1.0, 0.05, 1500)
agent_params.output_filter = OutputFilter(
    action_filters={"number_the_sets": FullDiscreteActionSpaceMap()}
)

graph_manager = BasicRLGraphManager(
    agent_params=agent_params, env_params=LampsParameters(), schedule_params=schedule_params
)
