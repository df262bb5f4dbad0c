"""The exported policy, loaded for inference: `policy.onnx` run by onnxruntime, described by
`metadata.json` (both written by training's export)."""

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


class OnnxPolicy:
    def __init__(self, model_dir: Path, threads: int = 1) -> None:
        self.model_dir = model_dir
        self.metadata = _read_metadata(model_dir)
        onnx_meta = self.metadata.get("onnx")
        if not onnx_meta:
            raise ModelLoadError(
                f"{model_dir / METADATA_FILE} lists no ONNX policy (trained with "
                f"rl_export_onnx=false?): nothing to serve"
            )
        path = model_dir / onnx_meta["file"]
        import onnxruntime

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

    def predict(self, observations: Any, include: set[str] = frozenset()) -> Prediction:
        unknown = include - set(self.outputs)
        if unknown:
            raise BadRequest(
                f"cannot include {', '.join(sorted(unknown))}: this policy outputs "
                f"{', '.join(self.outputs)}"
            )
        batch, single = self._as_batch(observations)
        names = ["actions", *sorted(include - {"actions"})]
        values = self.session.run(names, {INPUT_NAME: batch})
        return Prediction(dict(zip(names, values, strict=True)), single)

    def _as_batch(self, observations: Any) -> tuple[np.ndarray, bool]:
        try:
            array = np.asarray(observations, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadRequest(
                f"observations must be numbers shaped {list(self.observation_shape)} "
                f"(one) or [n, {', '.join(map(str, self.observation_shape))}] (a batch)"
            ) from None
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


def _read_metadata(model_dir: Path) -> dict[str, Any]:
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
