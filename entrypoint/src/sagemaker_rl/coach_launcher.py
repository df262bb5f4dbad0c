"""`SageMakerCoachPresetLauncher`, as the SageMaker RL examples defined it, on this image's
Coach launcher.

    from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher

    class MyLauncher(SageMakerCoachPresetLauncher):
        def default_preset_name(self):
            return "preset-cartpole-clippedppo"

        def map_hyperparameter(self, name, value):
            if name == "discount":
                self.apply_hyperparameter("rl.agent_params.algorithm.discount", value)
            else:
                super().map_hyperparameter(name, value)

    if __name__ == "__main__":
        MyLauncher.train_main()

The preset is `RLCOACH_PRESET` if the job sets it, else `default_preset_name()`. Every other
hyperparameter goes through `map_hyperparameter(name, value)`, whose default takes
`rl.<path>[:Type]` preset overrides and refuses anything else in one line (as the old launcher
raised). The image's own `rl_*` settings and the old launcher's `save_model` / `num_workers`
arguments are read by the launcher itself. Training, checkpoints, SIGTERM, metrics and export
are the image's own (sagemaker_rl_container/coach/).
"""

from __future__ import annotations

import logging
from typing import Any

from sagemaker_rl import class_or_instance_method
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.training_program import reporting_failures, start

logger = logging.getLogger(__name__)

PRESET_KEY = "RLCOACH_PRESET"
# The old launcher's own command-line arguments.
OLD_ARGUMENTS = ("save_model", "num_workers")


class SageMakerCoachPresetLauncher:
    def __init__(self) -> None:
        start()
        with reporting_failures(None):
            self.contract: TrainingContract = TrainingContract.from_environment()
        self.hyperparameters: dict[str, Any] = {}

    # -- the old hooks

    def default_preset_name(self) -> str:
        preset = getattr(self, "DEFAULT_PRESET", None)
        if preset:
            return str(preset)
        raise UserError(
            f"no preset: set the {PRESET_KEY} hyperparameter or define default_preset_name() "
            f"in {type(self).__name__}, returning the preset file's name without .py"
        )

    def map_hyperparameter(self, name: str, value: Any) -> None:
        """Map a friendly name onto a preset attribute; the default takes `rl.` names."""
        if name.startswith("rl."):
            self.apply_hyperparameter(name, value)
        else:
            raise UserError(
                f"unknown hyperparameter {name}: map it onto a preset attribute in "
                f"{type(self).__name__}.map_hyperparameter(), or name the attribute itself "
                f"(rl.<path>[:Type], e.g. rl.agent_params.algorithm.discount)"
            )

    def apply_hyperparameter(self, name: str, value: Any) -> None:
        """Set preset attribute `name` (`rl.<path>[:Type]`) to `value` once the preset loads."""
        logger.info("Applying RL hyperparameter %s=%s", name, value)
        self.hyperparameters[name] = value

    # -- running

    def launch(self) -> Any:
        from sagemaker_rl_container.coach.config import SETTING_PREFIX, CoachConfig

        with reporting_failures(self.contract):
            settings: dict[str, Any] = {}
            for name, value in self.contract.hyperparameters.items():
                if name == PRESET_KEY or name.startswith(SETTING_PREFIX):
                    settings[name] = value
                elif name in OLD_ARGUMENTS:
                    self._old_argument(name, value)
                else:
                    self.map_hyperparameter(name, value)
            if PRESET_KEY not in settings:
                settings[PRESET_KEY] = self.default_preset_name()
            config = CoachConfig.from_hyperparameters({**settings, **self.hyperparameters})
            from sagemaker_rl_container.coach import job

            return job.run(self.contract, config)

    def _old_argument(self, name: str, value: Any) -> None:
        if name == "num_workers" and int(value) != 1:
            raise UserError(
                f"num_workers={value}: multi-process Coach agents are not supported; for "
                f"rollouts on several hosts, set instance_count (see docs/coach.md)"
            )
        if name == "save_model":
            logger.info("save_model=%s: the trained network is always exported into model/", value)

    @class_or_instance_method
    def train_main(self) -> Any:
        """Train, checkpoint and export; returns the training summary."""
        return self.launch()
