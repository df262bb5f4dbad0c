"""The exported policy, loaded for inference, as `metadata.json` (written by training's
export) describes it: `policy.onnx` run by onnxruntime, or, for TensorFlow policies without
ONNX, the SavedModel in `1/` run by TensorFlow; a Coach export (coach_policy.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

METADATA_FILE = "metadata.json"
INPUT_NAME = "observations"


class ModelLoadError(Exception):
    """The model directory cannot be served; the message says why in one line."""


class BadRequest(ValueError):
    """The request does not fit the policy (shape, dtype); the message says how."""


@dataclass(frozen=True)
class Prediction:
    outputs: dict[str, np.ndarray]
    single: bool  # the request held one observation, not a batch


class Policy:
    """One observation or a batch in; the outputs asked for out."""

    observation_shape: tuple[int, ...]
    outputs: list[str]

    def predict(self, observations: Any, include: set[str] = frozenset()) -> Prediction:
        unknown = include - set(self.outputs)
        if unknown:
            raise BadRequest(
                f"cannot include {', '.join(sorted(unknown))}: this policy outputs "
                f"{', '.join(self.outputs)}"
            )
        batch, single = self._as_batch(observations)
        names = ["actions", *sorted(include - {"actions"})]
        return Prediction(self._run(batch, names), single)

    def _run(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _as_batch(self, observations: Any) -> tuple[np.ndarray, bool]:
        try:
            wide = np.asarray(observations, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            raise BadRequest(
                f"observations must be numbers shaped {list(self.observation_shape)} "
                f"(one) or [n, {', '.join(map(str, self.observation_shape))}] (a batch)"
            ) from None
        with np.errstate(over="ignore"):
            array = wide.astype(np.float32)
        if not np.all(np.isfinite(array)):
            raise BadRequest(
                "observations must be finite numbers within float32's range (no NaN, "
                "Infinity or values beyond 3.4e38)"
            )
        if array.shape == self.observation_shape:
            return array[None], True
        if array.ndim == len(self.observation_shape) + 1 and array.shape[1:] == (
            self.observation_shape
        ):
            if array.shape[0] == 0:
                raise BadRequest("the batch of observations is empty")
            return array, False
        raise BadRequest(
            f"observations shaped {list(array.shape)} do not fit the policy: expected "
            f"{list(self.observation_shape)} (one) or [n, "
            f"{', '.join(map(str, self.observation_shape))}] (a batch)"
        )


class OnnxPolicy(Policy):
    def __init__(self, model_dir: Path, metadata: dict[str, Any], threads: int = 1) -> None:
        self.metadata = metadata
        onnx_meta = metadata["onnx"]
        path = model_dir / onnx_meta["file"]
        import onnxruntime

        # An endpoint sends nothing about itself anywhere (and, read-only, cannot persist the
        # telemetry's device id: onnxruntime warns on every load).
        if hasattr(onnxruntime, "disable_telemetry_events"):
            onnxruntime.disable_telemetry_events()
        options = onnxruntime.SessionOptions()
        # One thread per worker: the server runs one worker per CPU.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:
            raise ModelLoadError(f"{path} could not be loaded by onnxruntime: {error}") from None
        self.observation_shape = tuple(onnx_meta["inputs"][INPUT_NAME]["shape"][1:])
        self.outputs = list(onnx_meta["outputs"])

    def _run(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(names, self.session.run(names, {INPUT_NAME: batch}), strict=True))


class SavedModelPolicy(Policy):
    """A TensorFlow SavedModel whose signature returns the action distribution's inputs; the
    deterministic action is computed here as RLlib computes it."""

    def __init__(self, model_dir: Path, metadata: dict[str, Any], threads: int = 1) -> None:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        self.metadata = metadata
        saved = metadata["tf_serving"]
        try:
            self.signature = tf.saved_model.load(str(model_dir / saved["path"])).signatures[
                saved["signature"]
            ]
        except Exception as error:
            raise ModelLoadError(
                f"the SavedModel in {model_dir / saved['path']} could not be loaded: {error}"
            ) from None
        self.input_name, spec = next(iter(saved["inputs"].items()))
        self.observation_shape = tuple(spec["shape"][1:])
        self.logits_name = saved["action_dist_inputs"]
        # Byte images the policy saw scaled (ray_rllib/environments.py): it takes the pixels.
        self.input_scale = np.float32(metadata.get("observation_scale") or 1.0)
        space = metadata["action_space"]
        self.discrete = space["type"] == "Discrete"
        self.low = np.array(space.get("low") or [], np.float32)
        self.high = np.array(space.get("high") or [], np.float32)
        self.outputs = ["actions", "action_dist_inputs"] + (
            ["action_probs"] if self.discrete else []
        )
        self.tf = tf

    def _run(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        scaled = batch * self.input_scale if self.input_scale != 1 else batch
        logits = self.signature(**{self.input_name: self.tf.constant(scaled)})[self.logits_name]
        # A vision network's logits are [batch, 1, 1, n]: the same numbers as [batch, n].
        logits = logits.numpy().reshape(len(batch), -1)
        if self.discrete:
            values = {
                "actions": logits.argmax(axis=1),
                "action_probs": _softmax(logits),
                "action_dist_inputs": logits,
            }
        else:
            mean = logits[:, : logits.shape[1] // 2]
            actions = self.low + (np.clip(mean, -1, 1) + 1.0) * (self.high - self.low) / 2.0
            values = {"actions": actions, "action_dist_inputs": logits}
        return {name: values[name] for name in names}


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def read_metadata(model_dir: Path) -> dict[str, Any]:
    path = model_dir / METADATA_FILE
    if not model_dir.is_dir() or not any(model_dir.iterdir()):
        raise ModelLoadError(f"the model directory {model_dir} is empty: no model to serve")
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise ModelLoadError(
            f"{path} is missing: serve a model directory written by this toolkit's training"
        ) from None
    except ValueError as error:
        raise ModelLoadError(f"{path} is not valid JSON: {error}") from None
