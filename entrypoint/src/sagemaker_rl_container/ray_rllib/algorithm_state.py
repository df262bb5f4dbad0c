"""Save and restore an Algorithm's full state, on either of RLlib's API stacks.

The new stack (torch) has `save_to_path`/`restore_from_path`; the old stack (TensorFlow) only
the Trainable-style `save_checkpoint`/`load_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save(algo: Any, path: Path) -> None:
    if algo.config.enable_rl_module_and_learner:
        algo.save_to_path(str(path))
    else:
        path.mkdir(parents=True, exist_ok=True)
        algo.save_checkpoint(str(path))


def restore(algo: Any, path: Path) -> None:
    if algo.config.enable_rl_module_and_learner:
        if algo.env_runner_group is None:
            # Offline algorithms have no training EnvRunners, and Algorithm.restore_from_path
            # syncs weights to them unconditionally (RLlib 2.60): restore the state alone;
            # evaluation EnvRunners get the weights before each evaluation anyway.
            from ray.rllib.utils.checkpoints import Checkpointable

            Checkpointable.restore_from_path(algo, str(path))
        else:
            algo.restore_from_path(str(path))
    else:
        algo.load_checkpoint(str(path))
