"""Entry script in the style of SageMaker's Coach notebooks: the image's
`sagemaker_rl.coach_launcher` runs the preset; this file only picks it and names a few
hyperparameters. `RLCOACH_PRESET=preset-cartpole-dqn` switches to the DQN preset."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class CartPoleLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-clippedppo"

    def map_hyperparameter(self, name, value):
        # Friendly names for the preset attributes a user tunes most.
        if name == "discount":
            self.apply_hyperparameter("rl.agent_params.algorithm.discount", value)
        elif name == "learning_rate":
            self.apply_hyperparameter("rl.agent_params.network_wrappers.main.learning_rate", value)
        elif name == "training_steps":
            self.apply_hyperparameter("rl.improve_steps:EnvironmentSteps", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    CartPoleLauncher.train_main()
