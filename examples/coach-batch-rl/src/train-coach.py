"""Entry script in the style of SageMaker's Coach notebooks: DDQN-BCQ from the CSV dataset in
the `dataset` input channel."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class BatchRLLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-ddqnbcq"

    def map_hyperparameter(self, name, value):
        if name == "epochs":
            self.apply_hyperparameter("rl.improve_steps:TrainingSteps", value)
        elif name == "learning_rate":
            self.apply_hyperparameter("rl.agent_params.network_wrappers.main.learning_rate", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    BatchRLLauncher.train_main()
