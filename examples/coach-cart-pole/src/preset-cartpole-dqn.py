"""DQN on gym's CartPole-v0: a replay memory, a target network copied every 500 steps and an
epsilon-greedy exploration decaying from 1 to 0.01 over the first 10,000 steps.

Each evaluation period is 2,000 environment steps (one training step per environment step),
then `evaluation_steps` greedy episodes."""

from rl_coach.agents.dqn_agent import DQNAgentParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.memories.memory import MemoryGranularity
from rl_coach.schedules import LinearSchedule

schedule_params = ScheduleParameters()
schedule_params.improve_steps = EnvironmentSteps(100000)
schedule_params.steps_between_evaluation_periods = EnvironmentSteps(2000)
schedule_params.evaluation_steps = EnvironmentEpisodes(10)
schedule_params.heatup_steps = EnvironmentSteps(1000)

agent_params = DQNAgentParameters()
main = agent_params.network_wrappers["main"]
main.learning_rate = 0.001
main.input_embedders_parameters["observation"].scheme = [Dense(64)]
main.middleware_parameters.scheme = [Dense(64)]
main.batch_size = 64
main.replace_mse_with_huber_loss = True

algorithm = agent_params.algorithm
algorithm.discount = 0.99
# A target network refreshed every 500 steps: slower than 100, but DQN at this learning rate
# oscillated and collapsed with 100.
algorithm.num_steps_between_copying_online_weights_to_target = EnvironmentSteps(500)
algorithm.num_consecutive_playing_steps = EnvironmentSteps(1)

agent_params.memory.max_size = (MemoryGranularity.Transitions, 50000)
agent_params.exploration.epsilon_schedule = LinearSchedule(1.0, 0.01, 10000)
agent_params.exploration.evaluation_epsilon = 0.0

graph_manager = BasicRLGraphManager(
    agent_params=agent_params,
    env_params=GymVectorEnvironment(level="CartPole-v0"),
    schedule_params=schedule_params,
)
