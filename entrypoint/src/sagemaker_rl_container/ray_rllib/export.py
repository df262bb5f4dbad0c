"""Export the trained policy into `/opt/ml/model`, which SageMaker uploads as model.tar.gz.

Layout:
  1/               TensorFlow policies: a SavedModel in TensorFlow Serving's layout
                   (version 1), signature `serving_default`.
  policy.onnx      the policy as ONNX (torch; TensorFlow with discrete actions, via
                   tf2onnx): `observations` [batch, *obs_shape] float32 in;
                   `actions` (deterministic, already mapped to the env's action space),
                   `action_dist_inputs` (logits, or mean and log-std) and, for discrete
                   actions, `action_probs` out. The batch dimension is dynamic.
  checkpoint/      the final RLlib checkpoint (`Algorithm.from_checkpoint` restores it),
                   put there by the job before export starts (RayTrainer.keep_checkpoint).
  metadata.json    algorithm, env, spaces, framework, versions, training summary.
The exported graph is checked against the policy it came from before the job reports success.
"""

from __future__ import annotations

import functools
import json
import logging
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sagemaker_rl_container.errors import UserError, summarize
from sagemaker_rl_container.ray_rllib import offline
from sagemaker_rl_container.versions import installed_versions

logger = logging.getLogger(__name__)

ONNX_FILE = "policy.onnx"
CHECKPOINT_DIR = "checkpoint"
METADATA_FILE = "metadata.json"
OBSERVATIONS = "observations"
ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-4
SAVED_MODEL_VERSION = "1"
SIGNATURE = "serving_default"


def export_model(
    algo: Any, model_dir: Path, description: dict[str, Any], export_onnx: bool | None = None
) -> dict[str, Any]:
    """Write the ONNX policy (or SavedModel) and metadata beside the checkpoint already in
    `model_dir`; returns the metadata written."""
    model_dir.mkdir(parents=True, exist_ok=True)
    config = algo.config
    obs_space, action_space = _spaces(algo)
    meta: dict[str, Any] = {
        "format_version": 1,
        **description,
        "framework": config.framework_str,
        "observation_space": space_to_dict(obs_space),
        "action_space": space_to_dict(action_space),
        "checkpoint": CHECKPOINT_DIR,
        "versions": _versions(config.framework_str),
    }
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
                    model_dir, meta["tf_serving"], obs_space, action_space
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
            lambda: export_onnx_policy(algo, model_dir / ONNX_FILE, obs_space, action_space),
            not_exported,
            required=bool(export_onnx),
            cleanup=[model_dir / ONNX_FILE],
        )
    if not_exported:
        meta["not_exported"] = not_exported
    (model_dir / METADATA_FILE).write_text(json.dumps(meta, indent=2))
    return meta


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


def export_saved_model(algo: Any, model_dir: Path, action_space: gym.Space) -> dict[str, Any]:
    """The old API stack's TensorFlow policy as a SavedModel at model/1 (TF Serving layout),
    reloaded and called once to prove it serves."""
    import tensorflow as tf

    version_dir = model_dir / SAVED_MODEL_VERSION
    algo.export_policy_model(str(version_dir))
    if not (version_dir / "saved_model.pb").exists():
        raise RuntimeError(
            f"RLlib wrote no SavedModel to {version_dir} (is tf-keras installed with "
            f"TF_USE_LEGACY_KERAS=1?)"
        )
    signature = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]
    inputs = {name: spec for name, spec in signature.structured_input_signature[1].items()}
    outputs = sorted(signature.structured_outputs)
    logits = next(
        (name for name in ("fc_out", "action_dist_inputs", "logits") if name in outputs), None
    )
    if logits is None:
        raise RuntimeError(f"the SavedModel's {SIGNATURE} has no logits output: {outputs}")
    return {
        "path": SAVED_MODEL_VERSION,
        "signature": SIGNATURE,
        "inputs": {
            name: {"shape": spec.shape.as_list(), "dtype": spec.dtype.name}
            for name, spec in inputs.items()
        },
        "outputs": outputs,
        "action_dist_inputs": logits,
        "actions": "argmax of action_dist_inputs"
        if isinstance(action_space, gym.spaces.Discrete)
        else "first half of action_dist_inputs (the mean), unsquashed to the action bounds",
    }


def convert_saved_model_to_onnx(
    model_dir: Path, saved: dict[str, Any], obs_space: gym.Space, action_space: gym.Space
) -> dict[str, Any]:
    """tf2onnx converts the SavedModel; the graph then gets the same interface as torch
    exports: `observations` in, `actions`, `action_dist_inputs`, `action_probs` out."""
    import subprocess
    import sys

    import onnx
    from onnx import helper

    if not isinstance(action_space, gym.spaces.Discrete):
        raise UserError(
            f"ONNX export of TensorFlow policies supports Discrete actions, not {action_space} "
            f"(the SavedModel in model/1 serves them)"
        )
    path = model_dir / ONNX_FILE
    converted = subprocess.run(
        [
            sys.executable,
            "-m",
            "tf2onnx.convert",
            "--saved-model",
            str(model_dir / saved["path"]),
            "--signature_def",
            saved["signature"],
            "--opset",
            str(ONNX_OPSET),
            "--output",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    if converted.returncode != 0:
        raise RuntimeError(f"tf2onnx failed: {converted.stderr.strip().splitlines()[-1:]}")
    model = onnx.load(str(path))
    graph = model.graph
    old_input = graph.input[0].name
    if old_input != OBSERVATIONS:
        for node in graph.node:
            node.input[:] = [OBSERVATIONS if name == old_input else name for name in node.input]
        graph.input[0].name = OBSERVATIONS
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    logits = saved["action_dist_inputs"]
    graph.node.extend(
        [
            helper.make_node("Identity", [logits], ["action_dist_inputs"]),
            helper.make_node("ArgMax", [logits], ["actions"], axis=1, keepdims=0),
            helper.make_node("Softmax", [logits], ["action_probs"], axis=1),
        ]
    )
    outputs = ["actions", "action_dist_inputs", "action_probs"]
    n = int(action_space.n)
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("actions", onnx.TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info(
                "action_dist_inputs", onnx.TensorProto.FLOAT, ["batch", n]
            ),
            helper.make_tensor_value_info("action_probs", onnx.TensorProto.FLOAT, ["batch", n]),
        ]
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    _check_saved_model_parity(model_dir, saved, path, obs_space)
    return {
        "file": ONNX_FILE,
        "inputs": {OBSERVATIONS: {"shape": [None, *obs_space.shape], "dtype": "float32"}},
        "outputs": outputs,
        "deterministic": True,
    }


# Runs in a fresh interpreter: RLlib's old TF stack turns eager execution off in this one.
_SAVED_MODEL_LOGITS = """
import sys, numpy as np, tensorflow as tf
path, signature, input_name, output_name, batch_file, out_file = sys.argv[1:]
fn = tf.saved_model.load(path).signatures[signature]
batch = tf.constant(np.load(batch_file))
np.save(out_file, fn(**{input_name: batch})[output_name].numpy())
"""


def _check_saved_model_parity(
    model_dir: Path, saved: dict[str, Any], path: Path, obs_space: gym.Space
) -> None:
    import subprocess
    import sys
    import tempfile

    import onnxruntime

    batch = np.stack([obs_space.sample() for _ in range(32)]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/batch.npy", batch)
        subprocess.run(
            [
                sys.executable,
                "-c",
                _SAVED_MODEL_LOGITS,
                str(model_dir / saved["path"]),
                saved["signature"],
                next(iter(saved["inputs"])),
                saved["action_dist_inputs"],
                f"{tmp}/batch.npy",
                f"{tmp}/logits.npy",
            ],
            check=True,
            capture_output=True,
        )
        expected = np.load(f"{tmp}/logits.npy")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actions, logits = session.run(["actions", "action_dist_inputs"], {OBSERVATIONS: batch})
    if not np.allclose(logits, expected, atol=PARITY_TOLERANCE, rtol=PARITY_TOLERANCE) or not (
        np.array_equal(actions, expected.argmax(axis=1))
    ):
        raise RuntimeError(
            "ONNX export check failed: the converted graph differs from the SavedModel"
        )


def export_onnx_policy(
    algo: Any, path: Path, obs_space: gym.Space, action_space: gym.Space
) -> dict[str, Any]:
    if algo.config.framework_str != "torch" or not algo.config.enable_rl_module_and_learner:
        raise UserError(
            f"ONNX export supports RLlib's torch RLModules; this job used "
            f"{algo.config.framework_str}, exported as a SavedModel"
        )
    if not isinstance(obs_space, gym.spaces.Box):
        raise UserError(f"ONNX export needs a Box observation space, not {obs_space}")
    if not isinstance(action_space, gym.spaces.Discrete | gym.spaces.Box):
        raise UserError(f"ONNX export supports Discrete and Box actions, not {action_space}")
    import torch
    from ray.rllib.core.columns import Columns

    module = offline.policy_module(algo)
    if module.is_stateful():
        raise UserError(
            f"{type(module).__name__} keeps a recurrent state between steps (its "
            f"get_initial_state), which the ONNX policy (observations in, actions out) does "
            f"not carry; Algorithm.from_checkpoint restores the checkpoint in model/"
        )
    sample = np.stack([obs_space.sample() for _ in range(8)]).astype(np.float32)
    with torch.no_grad():
        probe = module.forward_inference({Columns.OBS: torch.from_numpy(sample)})
    # Some modules (DQN's) compute the action themselves and expose no distribution inputs.
    direct = Columns.ACTION_DIST_INPUTS not in probe and Columns.ACTIONS in probe
    policy = inference_policy(module, action_space, algo.config, direct).eval()
    if direct:
        outputs = ["actions"]
    else:
        outputs = ["actions", "action_dist_inputs"]
        if isinstance(action_space, gym.spaces.Discrete):
            outputs.append("action_probs")
    _register_nanmean()
    with torch.no_grad():
        torch.onnx.export(
            policy,
            (torch.from_numpy(sample),),
            str(path),
            # The TorchScript-based exporter: the dynamo one needs onnxscript and traces
            # RLlib's modules no better.
            dynamo=False,
            input_names=[OBSERVATIONS],
            output_names=outputs,
            dynamic_axes={name: {0: "batch"} for name in [OBSERVATIONS, *outputs]},
            opset_version=ONNX_OPSET,
        )
    _check_parity(policy, path, obs_space, outputs)
    return {
        "file": ONNX_FILE,
        "inputs": {OBSERVATIONS: {"shape": [None, *obs_space.shape], "dtype": "float32"}},
        "outputs": outputs,
        "deterministic": True,
    }


@functools.cache
def _register_nanmean() -> None:
    """DQN's dueling head averages advantages with `nanmean`, which the exporter lacks.
    Inference sees no NaNs there, so it is exported as a mean (the parity check confirms)."""
    import torch
    from torch.onnx import symbolic_helper

    def nanmean(g: Any, x: Any, dim: Any, keepdim: Any, dtype: Any) -> Any:
        axes = symbolic_helper._get_const(dim, "is", "dim")
        keep = symbolic_helper._get_const(keepdim, "i", "keepdim")
        return g.op("ReduceMean", x, axes_i=axes, keepdims_i=keep)  # axes: an attribute in opset 17

    torch.onnx.register_custom_op_symbolic("aten::nanmean", nanmean, ONNX_OPSET)


@functools.cache
def _inference_policy_class() -> type:
    # Defined on first use: torch is imported only by images and jobs that export with it.
    import torch

    class _InferencePolicy(torch.nn.Module):
        """The RLModule's deterministic inference path as RLlib's env runners apply it."""

        def __init__(self, module: Any, action_space: gym.Space, config: Any, direct: bool) -> None:
            super().__init__()
            self.module = module
            self.direct = direct
            self.dist_cls = module.get_inference_action_dist_cls()
            self.discrete = isinstance(action_space, gym.spaces.Discrete)
            self.unsquash = False
            self.clip = False
            if isinstance(action_space, gym.spaces.Box):
                low = torch.as_tensor(action_space.low, dtype=torch.float32)
                high = torch.as_tensor(action_space.high, dtype=torch.float32)
                bounded = bool(np.all(action_space.bounded_below & action_space.bounded_above))
                self.register_buffer("low", low)
                self.register_buffer("high", high)
                self.unsquash = bool(config.normalize_actions) and bounded
                self.clip = bool(config.clip_actions) and bounded

        def forward(self, observations: Any) -> tuple[Any, ...]:
            from ray.rllib.core.columns import Columns

            out = self.module.forward_inference({Columns.OBS: observations})
            if self.direct:
                return (out[Columns.ACTIONS],)
            logits = out[Columns.ACTION_DIST_INPUTS]
            actions = self.dist_cls.from_logits(logits).to_deterministic().sample()
            if self.discrete:
                return actions, logits, torch.softmax(logits, dim=-1)
            if self.unsquash:
                actions = self.low + (actions + 1.0) * (self.high - self.low) / 2.0
                actions = torch.maximum(torch.minimum(actions, self.high), self.low)
            elif self.clip:
                actions = torch.maximum(torch.minimum(actions, self.high), self.low)
            return actions, logits

    return _InferencePolicy


def inference_policy(
    module: Any, action_space: gym.Space, config: Any, direct: bool = False
) -> Any:
    """The torch module ONNX export traces: `module`'s deterministic, env-ready actions
    (`direct`: the module outputs actions itself)."""
    return _inference_policy_class()(module, action_space, config, direct)


def _check_parity(policy: Any, path: Path, obs_space: gym.Space, outputs: list[str]) -> None:
    import onnxruntime
    import torch

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    batch = np.stack([obs_space.sample() for _ in range(32)]).astype(np.float32)
    got = session.run(outputs, {OBSERVATIONS: batch})
    with torch.no_grad():
        expected = [tensor.numpy() for tensor in policy(torch.from_numpy(batch))]
    for name, onnx_value, torch_value in zip(outputs, got, expected, strict=True):
        if onnx_value.shape != torch_value.shape or not np.allclose(
            onnx_value, torch_value, atol=PARITY_TOLERANCE, rtol=PARITY_TOLERANCE
        ):
            raise RuntimeError(f"ONNX export check failed: output {name} differs from the policy")


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
