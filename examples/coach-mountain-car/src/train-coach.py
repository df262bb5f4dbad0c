"""Entry script in the style of SageMaker's Coach notebooks: Clipped PPO on MountainCar-v0
with the shaped wrapper of this directory."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class MountainCarLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-mountaincar-clippedppo"

    def map_hyperparameter(self, name, value):
        if name == "shaping_scale":  # 0 trains on the plain reward
            self.apply_hyperparameter(
                "rl.env_params.additional_simulator_parameters.shaping_scale", value
            )
        elif name == "training_steps":
            self.apply_hyperparameter("rl.improve_steps:EnvironmentSteps", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    MountainCarLauncher.train_main()
