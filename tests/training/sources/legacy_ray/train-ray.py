"""A training script in the style of the SageMaker RL notebooks for the archived Ray 1.x
containers: SageMakerRayLauncher, a gym environment, a Ray 1.x experiment dict."""

import gym
from ray.tune.registry import register_env
from sagemaker_rl.notebook_helpers import greeting  # only the uploaded copy has this module
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


def create_environment(env_config):
    return gym.make("CartPole-v1")


class MyLauncher(SageMakerRayLauncher):
    def register_env_creator(self):
        register_env("CartPole-gym", create_environment)

    def get_experiment_config(self):
        print(greeting())
        return {
            "training": {
                "env": "CartPole-gym",
                "run": "PPO",
                "stop": {"training_iteration": 10},
                "checkpoint_freq": 1,
                "config": {
                    "use_pytorch": False,
                    "gamma": 0.99,
                    "lambda": 0.95,
                    "kl_coeff": 1.0,
                    "num_sgd_iter": 5,
                    "lr": 0.0001,
                    "sgd_minibatch_size": 64,
                    "train_batch_size": 256,
                    "monitor": False,
                    "model": {"fcnet_hiddens": [32, 32]},
                    "num_workers": self.num_cpus - 1,
                    "num_gpus": self.num_gpus,
                    "batch_mode": "truncate_episodes",
                },
            }
        }


if __name__ == "__main__":
    MyLauncher.train_main()
