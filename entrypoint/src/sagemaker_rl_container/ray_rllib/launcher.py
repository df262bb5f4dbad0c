"""The public API for script mode: a training script customises the job, the package runs it.

    # train.py, sent as sagemaker_program with RLEstimator (or any Estimator on this image)
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.tune.registry import register_env
    from sagemaker_rl_container.ray_rllib.launcher import RayLauncher

    class MyLauncher(RayLauncher):
        def register_env_creator(self):
            register_env("my-env", lambda env_config: MyEnv(env_config))

        def get_algorithm_config(self):
            return PPOConfig().environment("my-env").training(lr=1e-4)

    if __name__ == "__main__":
        MyLauncher().train_main()

The package still owns what every job needs: rl_* stop conditions, rl.* overrides (applied on
top of the returned config), checkpoints and resume, metrics, SIGTERM handling and export.

The program runs as SageMaker's script mode runs it (see training_program.py).
"""

from __future__ import annotations

import logging
from typing import Any

from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.training_program import reporting_failures, start

logger = logging.getLogger(__name__)


class RayLauncher:
    def __init__(self) -> None:
        start()
        with reporting_failures(None):
            self.contract = TrainingContract.from_environment()
        with reporting_failures(self.contract):
            self.job = JobConfig.from_hyperparameters(self.contract.hyperparameters)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The job's hyperparameters, JSON-decoded, without SageMaker's own keys."""
        return dict(self.contract.hyperparameters)

    def register_env_creator(self) -> None:
        """Register custom environments (`ray.tune.registry.register_env`). Runs after
        `ray.init`, before the algorithm is built."""

    def get_algorithm_config(self) -> Any | None:
        """Return an RLlib AlgorithmConfig, or None to build one from the rl_* hyperparameters."""
        return None

    def train_main(self) -> Any:
        """Train, checkpoint and export; returns the training summary."""
        from sagemaker_rl_container.ray_rllib import trainer

        base_config = self.get_algorithm_config()
        with reporting_failures(self.contract):
            return trainer.run(
                self.contract,
                self.job,
                base_config=base_config,
                before_build=self.register_env_creator,
            )
