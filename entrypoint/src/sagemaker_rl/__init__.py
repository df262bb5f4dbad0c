"""The SageMaker RL examples' `sagemaker_rl` package, for code written against the archived
SageMaker RL containers: `sagemaker_rl.ray_launcher.SageMakerRayLauncher` (Ray 1.x experiment
dicts) and `sagemaker_rl.coach_launcher.SageMakerCoachPresetLauncher` (Coach presets), with
their hooks, built on this image's launchers: checkpoints, SIGTERM, metrics, export and
failures work as in every other job. See docs/migration.md.

A source directory that carries its own copy of the old package (as the notebooks uploaded it)
keeps working: this package is imported instead, and modules only that copy has import from it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

logger = logging.getLogger(__name__)


def use_uploaded_copy(directory: str) -> None:
    """Let `sagemaker_rl.<module>` fall back to an uploaded copy for modules this one lacks."""
    if not os.path.isdir(directory) or directory in __path__:
        return
    own = {name for name in os.listdir(__path__[0]) if name.endswith(".py")}
    theirs = sorted(name for name in os.listdir(directory) if name.endswith(".py"))
    replaced = [name for name in theirs if name in own and name != "__init__.py"]
    extra = [name for name in theirs if name not in own]
    __path__.append(directory)
    logger.warning(
        "The source directory's sagemaker_rl/ (an uploaded copy of the old package) is not "
        "used for %s: this image's sagemaker_rl runs them, on its own launchers%s",
        ", ".join(replaced) or "its launchers",
        f"; its other modules ({', '.join(extra)}) still import from the copy" if extra else "",
    )


class class_or_instance_method:
    """`train_main` as the examples call it: `MyLauncher.train_main()` and
    `MyLauncher().train_main()` alike (the class form makes the instance)."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def __get__(self, instance: Any, owner: type) -> Any:
        def bound(*args: Any, **kwargs: Any) -> Any:
            return self.function(instance if instance is not None else owner(), *args, **kwargs)

        return bound
