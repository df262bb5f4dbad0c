"""Save and restore an Algorithm's full state, on either of RLlib's API stacks.

The new stack (torch) has `save_to_path`/`restore_from_path`; the old stack (TensorFlow) only
the Trainable-style `save_checkpoint`/`load_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Where RLlib 2.60 keeps a checkpoint's weights: new API stack, old API stack.
WEIGHT_FILES = ("module_state.pkl", "policy_state.pkl")


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


def non_finite_weight(algo: Any) -> str | None:
    """The first of the policy's weights that holds NaN or Infinity (`module/parameter`), or
    None when all are finite."""
    if algo.config.enable_rl_module_and_learner:
        weights = algo.learner_group.get_weights()
    else:
        weights = algo.get_weights()
    for module, parameters in weights.items():
        for name, value in (parameters or {}).items():
            array = np.asarray(value)
            if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
                return f"{module}/{name}"
    return None


def non_finite_in_checkpoint(path: Path) -> str | None:
    """The first weight in a saved checkpoint that holds NaN or Infinity (`file: key`), read
    from the files before anything is restored: restoring them first would leave the live
    algorithm half-poisoned for the next checkpoint tried."""
    import pickle

    for file in sorted(p for name in WEIGHT_FILES for p in path.rglob(name)):
        with open(file, "rb") as handle:
            state = pickle.load(handle)
        found = _non_finite(state, "")
        if found is not None:
            return f"{file.relative_to(path)}: {found or 'weights'}"
    return None


def _non_finite(value: Any, where: str) -> str | None:
    if isinstance(value, dict):
        for key, item in value.items():
            found = _non_finite(item, f"{where}.{key}" if where else str(key))
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _non_finite(item, f"{where}[{index}]")
            if found is not None:
                return found
        return None
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
        return where
    return None


def learner_digests(algo: Any) -> list[tuple[str, str]]:
    """(host address, digest of its weights) for each remote learner: data-parallel learners
    that average their gradients hold the same weights after every update, so the digests
    match. Empty when the learner lives in the driver."""
    group = getattr(algo, "learner_group", None)
    if group is None or not group.is_remote:
        return []
    results = group.foreach_learner(_digest_of_learner)
    return sorted(result.get() for result in results)


def _digest_of_learner(learner: Any) -> tuple[str, str]:
    import hashlib

    import ray

    digest = hashlib.sha256()
    _hash_into(digest, "", learner.module.get_state())
    return ray.util.get_node_ip_address(), digest.hexdigest()[:16]


def _hash_into(digest: Any, where: str, value: Any) -> None:
    if isinstance(value, dict):
        for key in sorted(value, key=str):
            _hash_into(digest, f"{where}/{key}", value[key])
        return
    array = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
    digest.update(where.encode())
    digest.update(np.ascontiguousarray(array).tobytes())
