"""Batch RL: DDQN with BCQ from a CSV of CartPole transitions, as in SageMaker's
rl_cartpole_batch_coach example (no simulator: off-policy evaluation only)."""

from rl_coach.agents.ddqn_bcq_agent import DDQNBCQAgentParameters, KNNParameters
from rl_coach.core_types import CsvDataset, TrainingSteps
from rl_coach.graph_managers.batch_rl_graph_manager import BatchRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.memories.episodic import EpisodicExperienceReplayParameters
from rl_coach.schedules import LinearSchedule
from rl_coach.spaces import (
    DiscreteActionSpace,
    RewardSpace,
    SpacesDefinition,
    StateSpace,
    VectorObservationSpace,
)

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(3)
schedule_params.steps_between_evaluation_periods = TrainingSteps(1)

agent_params = DDQNBCQAgentParameters()
agent_params.network_wrappers["main"].batch_size = 128
agent_params.algorithm.num_steps_between_copying_online_weights_to_target = TrainingSteps(50)
agent_params.algorithm.discount = 0.99
agent_params.network_wrappers["main"].learning_rate = 0.0001
agent_params.network_wrappers["main"].replace_mse_with_huber_loss = False
agent_params.exploration.epsilon_schedule = LinearSchedule(0, 0, 1)
agent_params.exploration.evaluation_epsilon = 0
agent_params.algorithm.action_drop_method_parameters = KNNParameters()

agent_params.memory = EpisodicExperienceReplayParameters()
agent_params.memory.load_memory_from_file_path = CsvDataset(
    "cartpole_dataset.csv", is_episodic=True
)

spaces = SpacesDefinition(
    state=StateSpace({"observation": VectorObservationSpace(shape=4)}),
    goal=None,
    action=DiscreteActionSpace(2),
    reward=RewardSpace(1),
)

graph_manager = BatchRLGraphManager(
    agent_params=agent_params,
    env_params=None,
    spaces_definition=spaces,
    schedule_params=schedule_params,
    reward_model_num_epochs=2,
    train_to_eval_ratio=0.5,
)
