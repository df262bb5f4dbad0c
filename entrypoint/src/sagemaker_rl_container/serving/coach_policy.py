"""A Coach export (coach/export.py), served: the SavedModel (TensorFlow images) or the Gluon
symbol and parameters (MXNet images), behind the preset's observation normalization.

The action comes from the policy head, else the Q head, by the agent's action space:
Discrete, the argmax of the probabilities or Q values; MultiSelect, the multi-hot vector that
argmax indexes; Box and Attention, the policy's mean (or a deterministic actor's output),
clipped to the space's bounds. A discrete output filter (an action map) then turns the index
into the action the environment is sent. Outputs: `actions`, plus `action_probs` or
`q_values` where there are any.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sagemaker_rl_container.serving.policy import METADATA_FILE, ModelLoadError, Policy

POLICY_HEADS = (
    "PPOHead",
    "PolicyHead",
    "ACERPolicyHead",
    "DDPGActorHead",
    "TD3ActorHead",
    "SACPolicyHead",
    "ClassificationHead",
)
# Heads whose outputs the exported graph cannot compute on its own.
UNSERVABLE_HEADS = {
    "DNDQHead": "NEC's Q values come from its differentiable neural dictionary, a Python "
    "structure the graph reaches through tf.py_func, outside the exported graph",
}
DISCRETE_SPACES = ("Discrete", "MultiSelect")
CONTINUOUS_SPACES = ("Box", "Attention")


class CoachPolicy(Policy):
    def __init__(self, model_dir: Path, metadata: dict[str, Any], threads: int = 1) -> None:
        names = list(metadata.get("inputs") or {})
        if len(names) != 1:  # e.g. DFP: observation, measurements and goal
            raise ModelLoadError(
                f"{model_dir / METADATA_FILE}: the {metadata.get('agent')} network takes "
                f"{len(names)} inputs ({', '.join(names)}); serving takes one observation"
            )
        for head in metadata.get("heads") or []:
            if head["kind"] in UNSERVABLE_HEADS:
                raise ModelLoadError(
                    f"{UNSERVABLE_HEADS[head['kind']]}: the {metadata.get('agent')} network "
                    f"cannot be served (model/checkpoint holds the trained agent)"
                )
        self.kind, self.output_index = _policy_output(metadata)
        self.z_values = _z_values(metadata, self.output_index)
        space = metadata.get("action_space") or {}
        space_type = space.get("type")
        if space_type not in DISCRETE_SPACES + CONTINUOUS_SPACES:
            raise ModelLoadError(
                f"{model_dir / METADATA_FILE}: the agent's action space is {space_type} "
                f"({space}); serving answers Discrete, MultiSelect, Box and Attention actions"
            )
        self.discrete = space_type in DISCRETE_SPACES
        if not self.discrete and self.kind == "q":
            raise ModelLoadError(
                f"{model_dir / METADATA_FILE}: the {metadata.get('agent')} network has Q "
                f"values but no policy head for its {space_type} actions: nothing chooses an "
                f"action"
            )
        self.shape = tuple(space.get("shape") or ())
        self.low = _bound(space.get("low"), -np.inf, self.shape)
        self.high = _bound(space.get("high"), np.inf, self.shape)
        # The multi-hot vector of each MultiSelect index, then what an action map sends.
        self.index_to_action = _action_table(space)
        self.normalization = _normalization(metadata)
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
        extra = "action_probs" if self.kind == "policy" else "q_values"
        self.outputs = ["actions"] + ([extra] if self.discrete else [])

    def _run(self, batch: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
        if self.normalization is not None:
            mean, std, (low, high) = self.normalization
            batch = np.clip((batch - mean) / std, low, high).astype(np.float32)
        values = np.asarray(self.run_network(batch)[self.output_index], np.float32)
        if values.ndim == 3:  # a distributional Q head: [n, actions, atoms]
            values = values @ self.z_values if self.z_values is not None else values.mean(axis=2)
        if self.discrete:
            index = values.argmax(axis=1)
            actions = index if self.index_to_action is None else self.index_to_action[index]
            result = {"actions": actions}
            result["action_probs" if self.kind == "policy" else "q_values"] = values
        else:
            values = values.reshape((len(batch), *self.shape)) if self.shape else values
            result = {"actions": np.clip(values, self.low, self.high)}
        return {name: result[name] for name in names}


def _z_values(metadata: dict[str, Any], output_index: int) -> np.ndarray | None:
    """The atoms of the head behind output `output_index`, when it is C51's or Rainbow's."""
    index = 0
    for head in metadata.get("heads") or []:
        if index == output_index and head.get("z_values"):
            return np.array(head["z_values"], np.float32)
        index += int(head["outputs"])
    return None


def _bound(values: list[Any] | None, unbounded: float, shape: tuple[int, ...]) -> np.ndarray:
    """A bound as exported (flat, null where unbounded), in the space's shape."""
    if not values:
        return np.array(unbounded, np.float32)
    bound = np.array([unbounded if v is None else v for v in values], np.float32)
    return bound.reshape(shape) if shape and bound.size == int(np.prod(shape)) else bound


def _action_table(space: dict[str, Any]) -> np.ndarray | None:
    """For a discrete agent, the action each index stands for when it is not the index: an
    output filter's target actions (what the env is sent), else MultiSelect's vectors."""
    for entry in space.get("output_filters") or []:
        if entry.get("target_actions") is not None:
            mapped = np.array(entry["target_actions"], np.float32)
            return mapped[:, 0] if mapped.shape[1:] == (1,) else mapped
    return np.array(space["actions"], np.float32) if space.get("actions") else None


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
