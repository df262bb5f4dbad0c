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

The program runs as SageMaker's script mode runs it (script_mode.py: a child process with the
SM_* environment). There a bad setting or an interrupted run ends the program with the job's
usual one line in output/failure and exit status 1, or 143 after SIGTERM; used anywhere else,
the launcher raises the error instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from typing import Any

from sagemaker_rl_container import signals
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError

logger = logging.getLogger(__name__)

# Set by script mode in the program's environment.
SCRIPT_MODE_ENV = "SAGEMAKER_RL_SCRIPT_MODE"


class RayLauncher:
    def __init__(self) -> None:
        if not logging.getLogger().handlers:
            from sagemaker_training import logging_config

            logging_config.configure_logger(logging.INFO)
        # Until Ray's start replaces it: a SIGTERM now is noted, not fatal.
        signals.install()
        with _reporting_failures(None):
            self.contract = TrainingContract.from_environment()
        with _reporting_failures(self.contract):
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
        with _reporting_failures(self.contract):
            return trainer.run(
                self.contract,
                self.job,
                base_config=base_config,
                before_build=self.register_env_creator,
            )


@contextlib.contextmanager
def _reporting_failures(contract: TrainingContract | None) -> Iterator[None]:
    """In a script-mode program, end a job that failed on its input as every job does."""
    try:
        yield
    except UserError as error:
        if os.environ.get(SCRIPT_MODE_ENV) != "1":
            raise
        if contract is not None:
            (contract.output_dir / "failure").write_text(str(error))
        logger.error("%s", error)
        interrupted = isinstance(error, TrainingInterrupted) or signals.requested()
        sys.exit(128 + 15 if interrupted else 1)
