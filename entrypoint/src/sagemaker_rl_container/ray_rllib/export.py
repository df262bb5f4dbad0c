"""Export the trained policy into `/opt/ml/model`, which SageMaker uploads as model.tar.gz.

Layout:
  1/               TensorFlow policies: a SavedModel in TensorFlow Serving's layout
                   (version 1), signature `serving_default`.
  policy.onnx      the policy as ONNX (torch; TensorFlow with discrete actions, via
                   tf2onnx): `observations` [batch, *obs_shape] float32 in;
                   `actions` (deterministic, already mapped to the env's action space),
                   `action_dist_inputs` (logits, or mean and log-std) and, for discrete
                   actions, `action_probs` out. The batch dimension is dynamic.
  policies/<policy>/policy.onnx
                   a multi-agent job's policies, one ONNX file each (the same contract);
                   metadata.json's `multi_agent` maps agents to them.
  checkpoint/      the final RLlib checkpoint (`Algorithm.from_checkpoint` restores it),
                   put there by the job before export starts (RayTrainer.keep_checkpoint).
  metadata.json    algorithm, env, spaces, framework, versions, training summary.
The exported graph is checked against the policy it came from before the job reports success:
onnx_policy.py (torch), saved_model.py (TensorFlow).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sagemaker_rl_container.errors import UserError, summarize
from sagemaker_rl_container.ray_rllib import multi_agent, offline
from sagemaker_rl_container.ray_rllib.onnx_policy import ONNX_FILE, export_onnx_policy
from sagemaker_rl_container.ray_rllib.saved_model import (
    SAVED_MODEL_VERSION,
    convert_saved_model_to_onnx,
    export_saved_model,
)
from sagemaker_rl_container.versions import installed_versions

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
POLICIES_DIR = "policies"
METADATA_FILE = "metadata.json"


def export_model(
    algo: Any,
    model_dir: Path,
    description: dict[str, Any],
    export_onnx: bool | None = None,
    observation: tuple[gym.Space, float] | None = None,
    policy_plan: multi_agent.PolicyPlan | None = None,
) -> dict[str, Any]:
    """Write the ONNX policy (or SavedModel) and metadata beside the checkpoint already in
    `model_dir`; returns the metadata written. `observation`: the env's own observation space
    and the scale its observations had for the policy (byte images, environments.py), which
    the exported policy then applies itself; `policy_plan`: a multi-agent job's policies, each
    exported on its own."""
    model_dir.mkdir(parents=True, exist_ok=True)
    if policy_plan is not None:
        return _export_policies(algo, model_dir, description, export_onnx, policy_plan)
    config = algo.config
    obs_space, action_space = _spaces(algo)
    input_scale = None
    if observation is not None:
        obs_space, input_scale = observation
    meta = _metadata(
        config,
        description,
        observation_space=space_to_dict(obs_space),
        action_space=space_to_dict(action_space),
    )
    if input_scale is not None:
        meta["observation_scale"] = input_scale
    not_exported: dict[str, str] = {}
    if config.framework_str != "torch":
        meta["tf_serving"] = _optional(
            "SavedModel",
            lambda: export_saved_model(algo, model_dir, action_space),
            not_exported,
            cleanup=[model_dir / SAVED_MODEL_VERSION],
        )
        # ONNX from the SavedModel where the action space allows (discrete actions).
        wanted = export_onnx or (
            export_onnx is None and isinstance(action_space, gym.spaces.Discrete)
        )
        if wanted and meta["tf_serving"] is not None:
            meta["onnx"] = _optional(
                "ONNX",
                lambda: convert_saved_model_to_onnx(
                    model_dir, meta["tf_serving"], obs_space, action_space, input_scale
                ),
                not_exported,
                required=bool(export_onnx),
                cleanup=[model_dir / ONNX_FILE],
            )
        elif export_onnx:
            raise UserError(
                "rl_export_onnx=true: ONNX is converted from the SavedModel, which failed"
            )
    elif export_onnx or export_onnx is None:
        meta["onnx"] = _optional(
            "ONNX",
            lambda: export_onnx_policy(
                algo, model_dir / ONNX_FILE, obs_space, action_space, input_scale
            ),
            not_exported,
            required=bool(export_onnx),
            cleanup=[model_dir / ONNX_FILE],
        )
    return _write_metadata(model_dir, meta, not_exported)


def _metadata(config: Any, description: dict[str, Any], **described: Any) -> dict[str, Any]:
    """metadata.json's fields every export has, around what `described` says of the policy."""
    return {
        "format_version": 1,
        **description,
        "framework": config.framework_str,
        **described,
        "checkpoint": CHECKPOINT_DIR,
        "versions": _versions(config.framework_str),
    }


def _write_metadata(
    model_dir: Path, meta: dict[str, Any], not_exported: dict[str, str]
) -> dict[str, Any]:
    if not_exported:
        meta["not_exported"] = not_exported
    (model_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    return meta


def _export_policies(
    algo: Any,
    model_dir: Path,
    description: dict[str, Any],
    export_onnx: bool | None,
    policy_plan: multi_agent.PolicyPlan,
) -> dict[str, Any]:
    """One ONNX file per policy, and metadata naming each policy's agents and spaces."""
    policies: dict[str, Any] = {}
    not_exported: dict[str, str] = {}
    for policy in policy_plan.policies:
        obs_space, action_space = policy_plan.spaces[policy]
        file = f"{POLICIES_DIR}/{_path_safe(policy)}/{ONNX_FILE}"
        (model_dir / file).parent.mkdir(parents=True, exist_ok=True)
        entry: dict[str, Any] = {
            "agents": policy_plan.agents_of(policy),
            "trained": policy in policy_plan.trained,
            "observation_space": space_to_dict(obs_space),
            "action_space": space_to_dict(action_space),
        }
        if export_onnx or export_onnx is None:
            entry["onnx"] = _optional(
                f"ONNX of policy {policy}",
                functools.partial(
                    _policy_onnx, algo, model_dir, file, obs_space, action_space, policy
                ),
                not_exported,
                required=bool(export_onnx),
                cleanup=[model_dir / file],
            )
        policies[policy] = entry
    meta = _metadata(
        algo.config,
        description,
        multi_agent={"mapping": dict(policy_plan.mapping), "policies": policies},
    )
    return _write_metadata(model_dir, meta, not_exported)


def _path_safe(name: str) -> str:
    return re.sub(r"[^\w.-]", "_", name)


def _policy_onnx(
    algo: Any,
    model_dir: Path,
    file: str,
    obs_space: gym.Space,
    action_space: gym.Space,
    policy: str,
) -> dict[str, Any]:
    exported = export_onnx_policy(algo, model_dir / file, obs_space, action_space, module_id=policy)
    return {**exported, "file": file}


def _optional(
    name: str,
    export: Any,
    not_exported: dict[str, str],
    required: bool = False,
    cleanup: list[Path] | None = None,
) -> dict[str, Any] | None:
    """Run one export. Training is never thrown away for a format the user did not ask for:
    if it fails, the job keeps the checkpoint (and what else exported) and says why in one
    warning line; one the user required (rl_export_onnx=true) fails the job in one line."""
    try:
        return export()
    except Exception as error:
        for path in cleanup or []:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        reason = str(error) if isinstance(error, UserError) else summarize(error)
        if required:
            raise UserError(
                f"rl_export_onnx=true, but the {name} export failed: {reason} (without "
                f"rl_export_onnx=true the job keeps the checkpoint and succeeds)"
            ) from error
        logger.warning(
            "%s not exported (%s); model/ holds the checkpoint, which Algorithm.from_checkpoint "
            "restores",
            name,
            reason,
        )
        not_exported[name] = reason
        return None


def _spaces(algo: Any) -> tuple[gym.Space, gym.Space]:
    if algo.config.enable_rl_module_and_learner:
        module = offline.policy_module(algo)
        return module.observation_space, module.action_space
    policy = algo.get_policy()
    return policy.observation_space, policy.action_space


def space_to_dict(space: gym.Space) -> dict[str, Any]:
    """JSON description of a space; infinite Box bounds are written as null."""
    if isinstance(space, gym.spaces.Box):
        return {
            "type": "Box",
            "shape": list(space.shape),
            "dtype": str(space.dtype),
            "low": _bounds(space.low),
            "high": _bounds(space.high),
        }
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist()}
    if isinstance(space, gym.spaces.MultiBinary):
        return {"type": "MultiBinary", "n": np.asarray(space.n).tolist()}
    if isinstance(space, gym.spaces.Dict):
        return {"type": "Dict", "spaces": {k: space_to_dict(v) for k, v in space.spaces.items()}}
    if isinstance(space, gym.spaces.Tuple):
        return {"type": "Tuple", "spaces": [space_to_dict(s) for s in space.spaces]}
    return {"type": type(space).__name__, "repr": str(space)}


def _bounds(values: np.ndarray) -> list[Any]:
    return [None if not np.isfinite(v) else float(v) for v in np.asarray(values).ravel()]


def _versions(framework: str) -> dict[str, str]:
    return installed_versions(
        "ray",
        "gymnasium",
        "numpy",
        "onnx",
        "onnxruntime",
        "torch" if framework == "torch" else "tensorflow",
    )
