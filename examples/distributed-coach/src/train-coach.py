"""Entry script in the style of SageMaker's Coach notebooks; every host runs it. On the head host
the launcher trains, on the others it plays rollouts for the trainer: nothing here changes."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class TrackerLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-tracker-clippedppo"

    def map_hyperparameter(self, name, value):
        if name == "playing_periods":
            self.apply_hyperparameter("rl.improve_steps:TrainingSteps", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    TrackerLauncher.train_main()
