"""Export the trained agent's main online network into /opt/ml/model.

TensorFlow: a SavedModel in TensorFlow Serving's layout, `model/1/saved_model.pb` + variables,
signature `serving_default`: the network's input embedders in (`observation`, ...), every head
output out (`output_0`, `output_1`, ...: e.g. Clipped PPO's state value and action
probabilities, DQN's Q values), as listed in `metadata.json`.
MXNet: the hybridized Gluon network as symbol + parameters, `model/model-symbol.json` and
`model/model-0000.params`, loadable with `mxnet.gluon.SymbolBlock.imports` (inputs `data`, or
`data0`, `data1`, ... in the order `metadata.json` gives, outputs in head order).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.preset import framework, top_agent
from sagemaker_rl_container.errors import export_step
from sagemaker_rl_container.versions import installed_versions

logger = logging.getLogger(__name__)


def main_network(graph_manager: Any) -> tuple[Any, Any]:
    agent = top_agent(graph_manager)
    networks = agent.networks
    wrapper = networks["main"] if "main" in networks else next(iter(networks.values()))
    return agent, wrapper.online_network


def _flatten(items: Any) -> list[Any]:
    if isinstance(items, (list, tuple)):
        return [leaf for item in items for leaf in _flatten(item)]
    return [items]


def export(
    graph_manager: Any, model_dir: Path, config: CoachConfig, training: dict[str, Any]
) -> list[str]:
    with export_step("finding the agent's network"):
        agent, network = main_network(graph_manager)
    model_dir.mkdir(parents=True, exist_ok=True)
    agent_name = type(agent).__name__
    if framework() == "tensorflow":
        with export_step(f"saving {agent_name}'s network as a TensorFlow SavedModel"):
            details = _export_tensorflow(agent, network, model_dir)
    else:
        with export_step(f"exporting {agent_name}'s network as an MXNet symbol"):
            details = _export_mxnet(agent, network, model_dir)
    with export_step(f"describing {agent_name}'s observation filters"):
        filters = pre_network_filters(agent)
    with export_step(f"describing {agent_name}'s network heads"):
        network_heads = heads(agent, details["outputs"])
    metadata = {
        "toolkit": "coach",
        "preset": config.preset,
        "agent": agent_name,
        "framework": framework(),
        **details,
        "pre_network_filters": filters,
        "action_space": action_space(agent),
        "heads": network_heads,
        "versions": installed_versions(
            "rl-coach-slim", "tensorflow-cpu", "tensorflow", "mxnet", "mxnet-cu117", "gym", "numpy"
        ),
        "training": training,
    }
    with export_step("writing metadata.json"):
        (model_dir / "metadata.json").write_text(json.dumps(metadata, indent=2))
    exported = sorted(path.name for path in model_dir.iterdir())
    logger.info("Model exported to %s: %s", model_dir, ", ".join(exported))
    return exported


def action_space(agent: Any) -> dict[str, Any]:
    """The agent's action space, as serving needs it to turn outputs into actions, and the
    output filters between it and the environment's (what the env is sent)."""
    with export_step(f"describing the action space {agent.spaces.action!r}"):
        described = describe_action_space(agent.spaces.action)
    filters = output_filters(agent)
    if filters:
        described["output_filters"] = filters
    return described


def describe_action_space(space: Any) -> dict[str, Any]:
    """Each kind of Coach 1.0 action space: Discrete (an index), MultiSelect (an index into
    its list of multi-hot vectors), Box and Attention (continuous, within low and high),
    Compound (one of these per sub-space). `space.actions` is asked of the discrete kinds
    only: on the others it is a property that raises."""
    from rl_coach.spaces import (
        AttentionActionSpace,
        BoxActionSpace,
        CompoundActionSpace,
        DiscreteActionSpace,
        MultiSelectActionSpace,
    )

    if isinstance(space, CompoundActionSpace):
        return {
            "type": "Compound",
            "spaces": [describe_action_space(sub) for sub in space.sub_action_spaces],
        }
    if isinstance(space, DiscreteActionSpace):
        return {"type": "Discrete", "n": len(space.actions)}
    if isinstance(space, MultiSelectActionSpace):
        actions = [[int(v) for v in action] for action in space.actions]
        return {"type": "MultiSelect", "n": len(actions), "actions": actions}
    if isinstance(space, AttentionActionSpace):
        kind = "Attention"
    elif isinstance(space, BoxActionSpace):
        kind = "Box"
    else:
        kind = type(space).__name__
    return {
        "type": kind,
        "shape": [int(d) for d in space.shape],
        "low": _bounds(space.low, space.shape),
        "high": _bounds(space.high, space.shape),
    }


def _bounds(values: Any, shape: Any) -> list[Any] | None:
    """Bounds as a flat list, an unbounded side as null (JSON has no Infinity)."""
    import numpy as np

    if values is None:
        return None
    flat = np.broadcast_to(np.asarray(values, dtype=np.float64), tuple(shape)).ravel()
    return [float(v) if np.isfinite(v) else None for v in flat]


def output_filters(agent: Any) -> list[dict[str, Any]]:
    """The preset's output filters, in order: what turns the agent's action into the env's.
    A discrete map (Partial/FullDiscreteActionSpaceMap, BoxDiscretization, ...) is exported
    with its target actions, which serving applies; others are named only."""
    chain = getattr(getattr(agent, "output_filter", None), "action_filters", None) or {}
    described = []
    for name, item in chain.items():
        entry: dict[str, Any] = {"name": name, "type": type(item).__name__}
        targets = getattr(item, "target_actions", None)
        if targets is not None:
            with export_step(f"describing output filter {name} ({type(item).__name__})"):
                entry["target_actions"] = [_as_list(action) for action in targets]
        described.append(entry)
    return described


def _as_list(action: Any) -> Any:
    """An action as JSON: nested lists in its space's shape (a box: [low, high])."""
    import numpy as np

    return np.asarray(action, dtype=np.float64).tolist()


def heads(agent: Any, outputs: Any) -> list[dict[str, Any]]:
    """Each head of the exported network: its kind and how many outputs (output_<i>, in
    order) it has. Serving picks the action from the policy head, else the Q head."""
    wrapper = agent.ap.network_wrappers
    parameters = wrapper["main"] if "main" in wrapper else next(iter(wrapper.values()))
    kinds = [type(head).__name__.replace("Parameters", "") for head in parameters.heads_parameters]
    # The network's outputs are its heads' outputs, flattened in head order. Heads do not say
    # how many each has: all but the last have one (state values, Q values, probabilities),
    # and the last takes the rest (a continuous policy's mean and standard deviation).
    total = len(outputs) if isinstance(outputs, dict) else int(outputs)
    counts = [1] * (len(kinds) - 1) + [max(1, total - (len(kinds) - 1))] if kinds else []
    described = [{"kind": kind, "outputs": count} for kind, count in zip(kinds, counts)]
    # Distributional Q heads output [n, actions, atoms]: C51's and Rainbow's probabilities over
    # the agent's atoms (z_values), QR-DQN's quantiles (equally likely).
    z_values = getattr(agent, "z_values", None)
    for head in described:
        if z_values is not None and head["kind"] in ("CategoricalQHead", "RainbowQHead"):
            head["z_values"] = [float(z) for z in z_values]
        elif head["kind"] == "QuantileRegressionQHead":
            head["quantiles"] = True
    return described


def pre_network_filters(agent: Any) -> dict[str, list[dict[str, Any]]]:
    """The preset's observation filters, which the exported graph does not contain. For
    normalization filters, their state: feed the model clip((x - mean) / std, *clip)."""
    chain = getattr(getattr(agent, "pre_network_filter", None), "observation_filters", None) or {}
    described: dict[str, list[dict[str, Any]]] = {}
    for observation, filters in chain.items():
        described[observation] = []
        for name, item in filters.items():
            entry: dict[str, Any] = {"name": name, "type": type(item).__name__}
            stats = getattr(item, "running_observation_stats", None)
            if stats is not None:
                try:
                    entry["mean"] = [float(v) for v in stats.mean]
                    entry["std"] = [float(v) for v in stats.std]
                    entry["clip"] = [float(item.clip_min), float(item.clip_max)]
                except Exception as error:  # TF-session-backed stats, shapes: report, go on
                    logger.warning("Filter %s state not exported: %s", name, error)
            described[observation].append(entry)
    return described


def _input_names(agent: Any, available: list[str]) -> list[str]:
    embedders = agent.ap.network_wrappers
    wrapper = embedders["main"] if "main" in embedders else next(iter(embedders.values()))
    names = list(wrapper.input_embedders_parameters)
    return [name for name in names if name in available] or available[:1]


def _export_tensorflow(agent: Any, network: Any, model_dir: Path) -> dict[str, Any]:
    import tensorflow as tf  # tensorflow.compat.v1 once tf_compat is installed

    target = model_dir / "1"
    if target.exists():
        shutil.rmtree(target)
    inputs = {name: network.inputs[name] for name in _input_names(agent, list(network.inputs))}
    outputs = {f"output_{i}": tensor for i, tensor in enumerate(_flatten(network.outputs))}
    signature = tf.saved_model.signature_def_utils.predict_signature_def(
        inputs=inputs, outputs=outputs
    )
    builder = tf.saved_model.builder.SavedModelBuilder(str(target))
    builder.add_meta_graph_and_variables(
        network.sess,
        [tf.saved_model.tag_constants.SERVING],
        signature_def_map={"serving_default": signature},
        strip_default_attrs=True,
    )
    builder.save()
    return {
        "tf_serving": {"path": "1", "signature": "serving_default"},
        "inputs": {name: _shape(tensor) for name, tensor in inputs.items()},
        "outputs": {name: _shape(tensor) for name, tensor in outputs.items()},
    }


def _shape(tensor: Any) -> list[Any]:
    return [None if dim is None else int(dim) for dim in tensor.shape.as_list()]


def _export_mxnet(agent: Any, network: Any, model_dir: Path) -> dict[str, Any]:
    model = network.model
    embedders = [embedder.embedder_name for embedder in model.nets[0].input_embedders]
    # A forward pass with the network's own dummy inputs builds the cached graph export needs.
    outputs = _flatten(model(*network._dummy_model_inputs()))
    prefix = model_dir / "model"
    model.export(str(prefix), epoch=0)
    import mxnet as mx

    symbol = mx.sym.load(f"{prefix}-symbol.json")
    arguments = set(symbol.list_arguments())
    data_names = [
        name for name in ("data", *(f"data{i}" for i in range(len(embedders)))) if name in arguments
    ]
    return {
        "symbol": "model-symbol.json",
        "params": "model-0000.params",
        "inputs": dict(zip(data_names, embedders)),
        "input_shapes": [list(shape) for shape in network._model_input_shapes()],
        "outputs": len(outputs),
    }
