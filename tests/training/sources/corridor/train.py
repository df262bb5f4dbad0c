"""A script-mode program: custom env registration and config, the package does the rest."""

import argparse

from corridor import Corridor
from ray.rllib.algorithms.ppo import PPOConfig
from ray.tune.registry import register_env

from sagemaker_rl_container.ray_rllib.launcher import RayLauncher


class CorridorLauncher(RayLauncher):
    def register_env_creator(self):
        register_env("corridor-v0", lambda env_config: Corridor(env_config))

    def get_algorithm_config(self):
        # Hyperparameters arrive as command-line arguments, as SageMaker passes them.
        parser = argparse.ArgumentParser()
        parser.add_argument("--corridor_length", type=int, default=5)
        args, _ = parser.parse_known_args()
        return (
            PPOConfig()
            .environment("corridor-v0", env_config={"length": args.corridor_length})
            .env_runners(num_env_runners=0)
            .training(train_batch_size_per_learner=400, minibatch_size=200, num_epochs=2)
        )


if __name__ == "__main__":
    CorridorLauncher().train_main()
