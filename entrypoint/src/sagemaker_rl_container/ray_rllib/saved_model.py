"""The old API stack's TensorFlow policy as a SavedModel in TensorFlow Serving's layout
(model/1, signature `serving_default`), and, for discrete actions, converted to ONNX with
tf2onnx under the same contract as torch exports (onnx_policy.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib.onnx_policy import (
    OBSERVATIONS,
    ONNX_FILE,
    ONNX_OPSET,
    PARITY_TOLERANCE,
    onnx_metadata,
)

SAVED_MODEL_VERSION = "1"
SIGNATURE = "serving_default"


def export_saved_model(algo: Any, model_dir: Path, action_space: gym.Space) -> dict[str, Any]:
    """The old API stack's TensorFlow policy as a SavedModel at model/1 (TF Serving layout),
    reloaded and checked to answer as the trained policy does."""
    import tensorflow as tf

    version_dir = model_dir / SAVED_MODEL_VERSION
    policy = algo.get_policy()
    session = policy.get_session()
    # RLlib saves the policy's Keras model with tf_keras, which reads variable values from
    # Keras' own session unless the policy's is the default one: without this, the
    # SavedModel held freshly initialised weights, not the trained ones (a CartPole policy
    # that trained to a return of 126 was exported playing 10).
    with session.graph.as_default(), session.as_default():
        algo.export_policy_model(str(version_dir))
    if not (version_dir / "saved_model.pb").exists():
        raise RuntimeError(
            f"RLlib wrote no SavedModel to {version_dir} (is tf-keras installed with "
            f"TF_USE_LEGACY_KERAS=1?)"
        )
    signature = tf.saved_model.load(str(version_dir)).signatures[SIGNATURE]
    inputs = {name: spec for name, spec in signature.structured_input_signature[1].items()}
    outputs = sorted(signature.structured_outputs)
    # fc_out: the fully connected network's; conv_out: the vision network's (image
    # observations), whose last 1x1 convolution gives the logits.
    logits = next(
        (
            name
            for name in ("fc_out", "conv_out", "action_dist_inputs", "logits")
            if name in outputs
        ),
        None,
    )
    if logits is None:
        raise RuntimeError(f"the SavedModel's {SIGNATURE} has no logits output: {outputs}")
    _check_trained_weights(policy, version_dir, next(iter(inputs)), logits)
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
    model_dir: Path,
    saved: dict[str, Any],
    obs_space: gym.Space,
    action_space: gym.Space,
    input_scale: float | None = None,
) -> dict[str, Any]:
    """tf2onnx converts the SavedModel; the graph then gets the same interface as torch
    exports: `observations` in, `actions`, `action_dist_inputs`, `action_probs` out.
    `input_scale`: what the env's observations were multiplied by for the policy (byte
    images): the graph multiplies its input by it, so it takes the env's own pixels."""
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
    fed = OBSERVATIONS if input_scale is None else "scaled_observations"
    if old_input != fed:
        for node in graph.node:
            node.input[:] = [fed if name == old_input else name for name in node.input]
        graph.input[0].name = OBSERVATIONS
    if input_scale is not None:
        scale = helper.make_tensor("observation_scale", onnx.TensorProto.FLOAT, [], [input_scale])
        graph.initializer.append(scale)
        graph.node.insert(0, helper.make_node("Mul", [OBSERVATIONS, "observation_scale"], [fed]))
    graph.input[0].type.tensor_type.shape.dim[0].dim_param = "batch"
    # The vision network's logits come out of a 1x1 convolution as [batch, 1, 1, n]:
    # flattened to [batch, n] like the fully connected network's.
    logits = "action_dist_inputs"
    graph.node.extend(
        [
            helper.make_node("Flatten", [saved["action_dist_inputs"]], [logits], axis=1),
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
    _check_saved_model_parity(model_dir, saved, path, obs_space, input_scale or 1.0)
    return onnx_metadata(obs_space, outputs)


# Runs in a fresh interpreter: RLlib's old TF stack turns eager execution off in this one.
_SAVED_MODEL_LOGITS = """
import sys, numpy as np, tensorflow as tf
path, signature, input_name, output_name, batch_file, out_file = sys.argv[1:]
fn = tf.saved_model.load(path).signatures[signature]
batch = tf.constant(np.load(batch_file))
np.save(out_file, fn(**{input_name: batch})[output_name].numpy())
"""


def _saved_model_logits(
    version_dir: Path, input_name: str, output_name: str, batch: np.ndarray
) -> np.ndarray:
    """The SavedModel's `output_name` for `batch`, as [batch, n]."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/batch.npy", batch)
        subprocess.run(
            [
                sys.executable,
                "-c",
                _SAVED_MODEL_LOGITS,
                str(version_dir),
                SIGNATURE,
                input_name,
                output_name,
                f"{tmp}/batch.npy",
                f"{tmp}/logits.npy",
            ],
            check=True,
            capture_output=True,
        )
        return np.load(f"{tmp}/logits.npy").reshape(len(batch), -1)


def _check_trained_weights(policy: Any, version_dir: Path, input_name: str, logits: str) -> None:
    """The SavedModel must answer as the trained policy does (greedy action inputs)."""
    space = policy.observation_space
    if not isinstance(space, gym.spaces.Box):
        return  # its input is the preprocessed observation: no like-for-like batch
    batch = np.stack([space.sample() for _ in range(8)]).astype(np.float32)
    expected = np.asarray(policy.compute_actions(batch, explore=False)[2]["action_dist_inputs"])
    saved = _saved_model_logits(version_dir, input_name, logits, batch)
    if not np.allclose(saved, expected.reshape(len(batch), -1), atol=1e-4, rtol=1e-4):
        raise RuntimeError(
            "the SavedModel does not answer as the trained policy does (its weights are not "
            "the trained ones)"
        )


def _check_saved_model_parity(
    model_dir: Path, saved: dict[str, Any], path: Path, obs_space: gym.Space, input_scale: float
) -> None:
    """The converted graph, given the env's observations, against the SavedModel given them
    as the policy saw them (times `input_scale`)."""
    import onnxruntime

    batch = np.stack([obs_space.sample() for _ in range(32)]).astype(np.float32)
    expected = _saved_model_logits(
        model_dir / saved["path"],
        next(iter(saved["inputs"])),
        saved["action_dist_inputs"],
        batch * np.float32(input_scale),
    )
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    actions, logits = session.run(["actions", "action_dist_inputs"], {OBSERVATIONS: batch})
    if not np.allclose(logits, expected, atol=PARITY_TOLERANCE, rtol=PARITY_TOLERANCE) or not (
        np.array_equal(actions, expected.argmax(axis=1))
    ):
        raise RuntimeError(
            "ONNX export check failed: the converted graph differs from the SavedModel"
        )
