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

The program runs as SageMaker's script mode runs it: a child process with the SM_* environment,
started by this image's `train` (script_mode.py) or, with SDK v3's `ModelTrainer(source_code=...)`,
by that SDK's own driver script. There a bad setting or an interrupted run ends the program with
the job's usual one line in output/failure and exit status 1, or 143 after SIGTERM; used
anywhere else, the launcher raises the error instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sagemaker_rl_container import signals
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError
from sagemaker_rl_container.script_mode import SCRIPT_MODE_ENV

logger = logging.getLogger(__name__)

# Set by the SageMaker Python SDK v3's driver (sm_train.sh) for the entry script it runs.
SDK_V3_ENTRY_SCRIPT_ENV = "SM_ENTRY_SCRIPT"


class RayLauncher:
    def __init__(self) -> None:
        if not logging.getLogger().handlers:
            from sagemaker_training import logging_config

            logging_config.configure_logger(logging.INFO)
        # Until Ray's start replaces it: a SIGTERM now is noted, not fatal.
        signals.install()
        _make_program_importable()
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


def _in_training_program() -> bool:
    return os.environ.get(SCRIPT_MODE_ENV) == "1" or SDK_V3_ENTRY_SCRIPT_ENV in os.environ


def _make_program_importable() -> None:
    """Ray's workers import the program's modules (its environments) by name: give them the
    program's directory, wherever the program was started from."""
    program = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if program is None or not program.is_file():
        return
    directory = str(program.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if directory not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([directory, *paths])


@contextlib.contextmanager
def _reporting_failures(contract: TrainingContract | None) -> Iterator[None]:
    """In a SageMaker training program, end a job that failed on its input as every job does
    (a driver that already found output/failure keeps it)."""
    try:
        yield
    except UserError as error:
        if not _in_training_program():
            raise
        if contract is not None:
            (contract.output_dir / "failure").write_text(str(error))
        logger.error("%s", error)
        interrupted = isinstance(error, TrainingInterrupted) or signals.requested()
        sys.exit(128 + 15 if interrupted else 1)
