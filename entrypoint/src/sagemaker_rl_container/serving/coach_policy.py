"""A Coach export (coach/export.py), served: the SavedModel (TensorFlow images) or the Gluon
symbol and parameters (MXNet images), behind the preset's observation normalization.

The action is the argmax of the policy head's probabilities (Clipped PPO, policy gradients),
its mean for continuous actions (clipped to the action space), or the argmax of the Q head
(DQN and its kin). Outputs: `actions`, plus `action_probs` or `q_values` where there are any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sagemaker_rl_container.serving.policy import METADATA_FILE, ModelLoadError, Policy

POLICY_HEADS = ("PPOHead", "PolicyHead", "DDPGActorHead", "SACPolicyHead", "ClassificationHead")


class CoachPolicy(Policy):
    def __init__(self, model_dir: Path, metadata: dict[str, Any], threads: int = 1) -> None:
        self.kind, self.output_index = _policy_output(metadata)
        space = metadata.get("action_space") or {}
        self.discrete = space.get("type") == "Discrete"
        self.low = np.array(space.get("low") or [], np.float32)
        self.high = np.array(space.get("high") or [], np.float32)
        self.normalization = _normalization(metadata)
        names = list(metadata.get("inputs") or {})
        if len(names) != 1:
            raise ModelLoadError(
                f"{model_dir / METADATA_FILE}: the network takes {len(names)} inputs "
                f"({', '.join(names)}); serving takes one observation"
            )
        self.input_name = names[0]
        if metadata.get("tf_serving"):
            self.run_network = _tensorflow(model_dir, metadata, threads)
            self.observation_shape = tuple(metadata["inputs"][self.input_name][1:])
        elif metadata.get("symbol"):
            self.run_network = _mxnet(model_dir, metadata)
            # The shapes of the network's dummy batch of one: [1, *observation].
            self.observation_shape = tuple(metadata["input_shapes"][0][1:])
        else:
            raise ModelLoadError(f"{model_dir / METADATA_FILE} lists no exported network")
        extra = "action_probs" if self.kind == "policy" and self.discrete else "q_values"
        self.outputs = ["actions"] + ([extra] if self.discrete or self.kind == "q" else [])

    def _run(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        if self.normalization is not None:
            mean, std, (low, high) = self.normalization
            batch = np.clip((batch - mean) / std, low, high).astype(np.float32)
        values = np.asarray(self.run_network(batch)[self.output_index], np.float32)
        if self.discrete or self.kind == "q":
            result = {"actions": values.argmax(axis=1)}
            result["action_probs" if self.kind == "policy" else "q_values"] = values
        else:
            actions = values if self.low.size == 0 else np.clip(values, self.low, self.high)
            result = {"actions": actions}
        return {name: result[name] for name in names}


def _policy_output(metadata: dict[str, Any]) -> tuple[str, int]:
    """Which output_<i> chooses the action, and whether it is a policy's or Q values."""
    heads = metadata.get("heads")
    if not heads:
        raise ModelLoadError(
            "metadata.json does not describe the network's heads (exported by an older "
            "version): train again to serve it"
        )
    for wanted, kind in ((POLICY_HEADS, "policy"), (None, "q")):
        index = 0
        for head in heads:
            name = head["kind"]
            if (wanted is not None and name in wanted) or (wanted is None and "QHead" in name):
                return kind, index
            index += int(head["outputs"])
    raise ModelLoadError(
        f"the {metadata.get('agent')} network's heads ({', '.join(h['kind'] for h in heads)}) "
        f"have no policy or Q head to choose actions with"
    )


def _normalization(metadata: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, Any] | None:
    for entries in (metadata.get("pre_network_filters") or {}).values():
        for entry in entries:
            if entry.get("type") == "ObservationNormalizationFilter":
                if "mean" not in entry:
                    raise ModelLoadError(
                        "the preset normalizes observations but its statistics were not "
                        "exported: the model cannot be served as trained"
                    )
                std = np.maximum(np.array(entry["std"], np.float32), 1e-15)
                return np.array(entry["mean"], np.float32), std, tuple(entry["clip"])
    return None


def _tensorflow(model_dir: Path, metadata: dict[str, Any], threads: int) -> Any:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    saved = metadata["tf_serving"]
    try:
        signature = tf.saved_model.load(str(model_dir / saved["path"])).signatures[
            saved["signature"]
        ]
    except Exception as error:
        raise ModelLoadError(
            f"the SavedModel in {model_dir / saved['path']} could not be loaded: {error}"
        ) from None
    (input_name,) = metadata["inputs"]
    count = len(metadata["outputs"])

    def run(batch: np.ndarray) -> list[np.ndarray]:
        out = signature(**{input_name: tf.constant(batch)})
        return [out[f"output_{i}"].numpy() for i in range(count)]

    return run


def _mxnet(model_dir: Path, metadata: dict[str, Any]) -> Any:
    import mxnet as mx

    data_names = list(metadata["inputs"])
    try:
        block = mx.gluon.SymbolBlock.imports(
            str(model_dir / metadata["symbol"]), data_names, str(model_dir / metadata["params"])
        )
    except Exception as error:
        raise ModelLoadError(
            f"the MXNet network in {model_dir} could not be loaded: {error}"
        ) from None

    def run(batch: np.ndarray) -> list[np.ndarray]:
        outputs = block(mx.nd.array(batch))
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        return [o.asnumpy() for o in outputs]

    return run
