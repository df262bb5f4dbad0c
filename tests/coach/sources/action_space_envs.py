"""Two small Coach-native environments for the action-space kinds gym's wrapper never makes
(it maps gym's Box and Discrete only), so that export and serving meet them:

- `Lamps` (MultiSelectActionSpace): three lamps, some asked to be lit (the observation, 0/1
  each); an action lights any set of at most two. Reward: lamps matching the request, each
  step, 10 steps an episode. A random policy gets ~1.7 a step; lighting what is asked, 3
  when at most two are asked.
- `Spotlight` (AttentionActionSpace): a target point in the unit square (the observation);
  an action is a box [[low_x, low_y], [high_x, high_y]]. Reward: 1 if the box holds the
  target, less the box's area; one step an episode. The preset discretizes the boxes
  (Coach's AttentionDiscretization output filter), so the agent picks among a grid of them.
"""

import numpy as np
from rl_coach.environments.environment import Environment, EnvironmentParameters, LevelSelection
from rl_coach.filters.filter import NoInputFilter, NoOutputFilter
from rl_coach.spaces import (
    AttentionActionSpace,
    MultiSelectActionSpace,
    StateSpace,
    VectorObservationSpace,
)


class _Simple(Environment):
    episode_steps = 1

    def __init__(
        self,
        level,
        seed,
        frame_skip,
        human_control,
        custom_reward_threshold,
        visualization_parameters,
        **kwargs,
    ):
        super().__init__(
            level,
            seed,
            frame_skip,
            human_control,
            custom_reward_threshold,
            visualization_parameters,
        )
        self.rng = np.random.RandomState(seed)
        self.steps = 0
        self.target = None
        self.state_space = StateSpace(
            {"observation": VectorObservationSpace(self.observation_size, low=0, high=1)}
        )
        self.action_space = self.make_action_space()
        self.reset_internal_state(True)

    def _restart_environment_episode(self, force_environment_reset=False):
        self.steps = 0
        self.target = self.new_target()
        self._update_observation()

    def _take_action(self, action):
        self.steps += 1
        self.reward = float(self.score(np.asarray(action, dtype=np.float64)))
        self.done = self.steps >= self.episode_steps
        self.target = self.new_target()

    def _update_state(self):
        self._update_observation()

    def _update_observation(self):
        self.state = {"observation": np.asarray(self.target, dtype=np.float32)}

    def get_rendered_image(self):
        return np.zeros((8, 8, 3), dtype=np.uint8)


class Lamps(_Simple):
    observation_size = 3
    episode_steps = 10

    def make_action_space(self):
        return MultiSelectActionSpace(3, max_simultaneous_selected_actions=2)

    def new_target(self):
        target = np.zeros(3)
        target[self.rng.choice(3, size=self.rng.randint(0, 3), replace=False)] = 1
        return target

    def score(self, action):
        return np.sum(action == self.target)


class Spotlight(_Simple):
    observation_size = 2

    def make_action_space(self):
        return AttentionActionSpace(2, low=np.zeros(2), high=np.ones(2))

    def new_target(self):
        return self.rng.uniform(0, 1, size=2)

    def score(self, action):
        low, high = action[0], action[1]
        inside = np.all(low <= self.target) and np.all(self.target <= high)
        return float(inside) - float(np.prod(np.maximum(high - low, 0)))


class _SimpleParameters(EnvironmentParameters):
    """Coach instantiates the environment class at `path`, with no default filters."""

    environment = ""

    def __init__(self):
        super().__init__(level=LevelSelection(self.environment.lower()))
        self.frame_skip = 1
        self.default_input_filter = NoInputFilter
        self.default_output_filter = NoOutputFilter

    @property
    def path(self):
        return f"action_space_envs:{self.environment}"


class LampsParameters(_SimpleParameters):
    environment = "Lamps"


class SpotlightParameters(_SimpleParameters):
    environment = "Spotlight"
