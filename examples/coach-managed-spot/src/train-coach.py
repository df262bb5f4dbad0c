"""Entry script in the style of SageMaker's Coach notebooks, for a managed spot job: nothing
here is about spot instances. The image checkpoints Coach into /opt/ml/checkpoints (which
SageMaker syncs with `checkpoint_s3_uri`), and a restarted job resumes from the newest one."""

from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class SpotLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-clippedppo"

    def map_hyperparameter(self, name, value):
        if name == "training_steps":
            self.apply_hyperparameter("rl.improve_steps:EnvironmentSteps", value)
        elif name == "evaluation_episodes":
            self.apply_hyperparameter("rl.evaluation_steps:EnvironmentEpisodes", value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    SpotLauncher.train_main()
