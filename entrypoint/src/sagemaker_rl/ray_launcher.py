"""`SageMakerRayLauncher`, as the SageMaker RL examples defined it, on this image's Ray launcher.

    from ray.tune.registry import register_env
    from sagemaker_rl.ray_launcher import SageMakerRayLauncher

    class MyLauncher(SageMakerRayLauncher):
        def register_env_creator(self):
            register_env("my-env", lambda env_config: MyEnv(env_config))

        def get_experiment_config(self):
            return {"training": {"run": "PPO", "env": "my-env",
                                 "stop": {"training_iteration": 20},
                                 "config": {"num_workers": 3, "sgd_minibatch_size": 64}}}

    if __name__ == "__main__":
        MyLauncher.train_main()

The experiment dict is Ray 1.x's; it is translated to the current RLlib API
(sagemaker_rl_container/ray_rllib/legacy_experiment.py, table in docs/migration.md), and
`rl.<experiment>.config.<key>` / `rl.<experiment>.stop.<key>` hyperparameters adjust it first,
as they did. Environments may be written for `gym`. Training, checkpoints, SIGTERM, metrics and
export are the image's own (RayLauncher's).
"""

from __future__ import annotations

import logging
from typing import Any

from sagemaker_rl import class_or_instance_method
from sagemaker_rl_container import hosts
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib.launcher import RayLauncher
from sagemaker_rl_container.training_program import reporting_failures, start

logger = logging.getLogger(__name__)


class SageMakerRayLauncher(RayLauncher):
    def __init__(self, args: Any = None) -> None:
        # RayLauncher's __init__ reads rl_* settings at once; here the experiment dict adds
        # to them, so the job's settings are read in train_main.
        start()
        with reporting_failures(None):
            self.contract: TrainingContract = TrainingContract.from_environment()
        self.args = args
        self.num_cpus = self.contract.num_cpus
        self.num_gpus = self.contract.num_gpus
        self.hosts_info = list(self.contract.hosts)
        self.current_host = self.contract.current_host
        with reporting_failures(self.contract):
            head = hosts.layout(self.contract, None).head
        self.is_master_node = self.current_host == head

    # -- the old hooks

    def register_env_creator(self) -> None:
        """Register the experiment's environment (`ray.tune.registry.register_env`)."""

    def register_algorithms_and_preprocessors(self) -> None:
        """Register custom algorithms or models (`ray.tune.registry.register_trainable`...)."""

    def get_experiment_config(self) -> dict[str, Any]:
        raise UserError(
            f"{type(self).__name__} must define get_experiment_config(), returning a Tune "
            'experiment dict such as {"training": {"run": "PPO", "env": ..., "config": {...}}}'
        )

    def customize_experiment_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Apply the `rl.<experiment>.config.<key>` / `.stop.<key>` hyperparameters."""
        from sagemaker_rl_container.ray_rllib import legacy_experiment

        legacy, _ = legacy_experiment.split_hyperparameters(self.contract.hyperparameters, config)
        return legacy_experiment.apply_hyperparameters(config, legacy)

    # -- running

    def _before_build(self) -> None:
        self.register_env_creator()
        self.register_algorithms_and_preprocessors()

    def launch(self) -> Any:
        from sagemaker_rl_container.ray_rllib import legacy_experiment, trainer

        with reporting_failures(self.contract):
            experiments = self.get_experiment_config()
            experiments = self.customize_experiment_config(experiments)
            translated = legacy_experiment.translate(experiments)
            _, rest = legacy_experiment.split_hyperparameters(
                self.contract.hyperparameters, experiments
            )
            settings = {f"rl_{key}": value for key, value in translated.settings.items()}
            # What the job's hyperparameters say explicitly wins over the script's dict.
            self.job = JobConfig.from_hyperparameters({**settings, **rest})
            logger.info(
                "Experiment %s translated from Ray 1.x: %s",
                next(iter(experiments)),
                ", ".join(f"{k}={v!r}" for k, v in settings.items()) or "no job settings",
            )
            return trainer.run(
                self.contract,
                self.job,
                base_config=translated.config,
                before_build=self._before_build,
            )

    @class_or_instance_method
    def train_main(self, args: Any = None) -> Any:  # type: ignore[override]
        """Train, checkpoint and export; returns the training summary."""
        if args is not None:
            self.args = args
        return self.launch()
