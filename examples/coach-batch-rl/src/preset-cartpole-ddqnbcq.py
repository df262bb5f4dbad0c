"""Batch RL on CartPole-v0: DDQN with BCQ's action filter, trained only from a CSV dataset of
transitions (the `dataset` channel; record.py writes one), never from its own play.

Each iteration is `steps_between_evaluation_periods` training steps over the dataset, then
off-policy evaluation against the dataset (importance sampling, direct method, doubly robust,
weighted IS: logged as ope_*), then `evaluation_steps` episodes in the simulator (only to show
how the policy does: training never uses them)."""

from rl_coach.agents.ddqn_bcq_agent import DDQNBCQAgentParameters, KNNParameters
from rl_coach.architectures.layers import Dense
from rl_coach.core_types import CsvDataset, EnvironmentEpisodes, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.graph_managers.batch_rl_graph_manager import BatchRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters
from rl_coach.memories.episodic import EpisodicExperienceReplayParameters
from rl_coach.memories.memory import MemoryGranularity
from rl_coach.schedules import LinearSchedule
from rl_coach.spaces import (
    DiscreteActionSpace,
    RewardSpace,
    SpacesDefinition,
    StateSpace,
    VectorObservationSpace,
)

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(40)
schedule_params.steps_between_evaluation_periods = TrainingSteps(2)
schedule_params.evaluation_steps = EnvironmentEpisodes(5)
schedule_params.heatup_steps = TrainingSteps(0)

agent_params = DDQNBCQAgentParameters()
main = agent_params.network_wrappers["main"]
main.batch_size = 128
main.learning_rate = 0.001
main.input_embedders_parameters["observation"].scheme = [Dense(128)]
main.middleware_parameters.scheme = [Dense(128)]
main.replace_mse_with_huber_loss = False

algorithm = agent_params.algorithm
algorithm.discount = 0.99
algorithm.num_steps_between_copying_online_weights_to_target = TrainingSteps(50)
# BCQ: act only among actions the behaviour policy would likely take in similar states.
algorithm.action_drop_method_parameters = KNNParameters()

agent_params.exploration.epsilon_schedule = LinearSchedule(0, 0, 1)
agent_params.exploration.evaluation_epsilon = 0

agent_params.memory = EpisodicExperienceReplayParameters()
agent_params.memory.max_size = (MemoryGranularity.Transitions, 1000000)
# Read from the `dataset` input channel (/opt/ml/input/data/dataset/) by the image.
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
    env_params=GymVectorEnvironment(level="CartPole-v0"),  # evaluation only
    spaces_definition=spaces,
    schedule_params=schedule_params,
    reward_model_num_epochs=5,
    train_to_eval_ratio=0.8,
)
