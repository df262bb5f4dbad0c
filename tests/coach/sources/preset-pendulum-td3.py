"""TD3 on Pendulum-v0 (gym 0.12): twin critics and a deterministic actor for one torque in [-2, 2]."""

from rl_coach.agents.td3_agent import TD3AgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(20000)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(2000)
schedule_params.evaluation_steps = EnvironmentEpisodes(1)
schedule_params.heatup_steps = EnvironmentSteps(500)

agent_params = TD3AgentParameters()
agent_params.network_wrappers["actor"].input_embedders_parameters["observation"].scheme = [
    Dense(64)
]
agent_params.network_wrappers["actor"].middleware_parameters.scheme = [Dense(64)]
agent_params.network_wrappers["critic"].input_embedders_parameters["observation"].scheme = [
    Dense(64)
]
agent_params.network_wrappers["critic"].middleware_parameters.scheme = [Dense(64)]

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="Pendulum-v0"),
    schedule_params=schedule_params,
)
