"""Entry script in the style of SageMaker's Coach notebooks: the preset trains Clipped PPO on
the knapsack environment of this directory."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class KnapsackLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-knapsack-clippedppo"

    def map_hyperparameter(self, name, value):
        if name == "learning_rate":
            self.apply_hyperparameter("rl.agent_params.network_wrappers.main.learning_rate", value)
        elif name == "training_steps":
            self.apply_hyperparameter("rl.improve_steps:EnvironmentSteps", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    KnapsackLauncher.train_main()
