"""Run Coach 1.0's MXNet path, without touching Coach.

Coach 1.0's `NetworkWrapper` passes `additional_inputs=` to `apply_gradients`, which its
TensorFlow architecture accepts and its MXNet architecture (written for Coach 0.11) does not:
every MXNet training step failed with a TypeError. `install()` wraps
`MxnetArchitecture.apply_gradients` to accept and drop that argument (the MXNet architecture
has no use for it: its gradients already carry everything). MXNet 1.5.x (CPU image) and 1.9.x
(CUDA image, with a bridge for gluon's `Constant` initializer) run it, with numpy < 1.24.

Batch RL's off-policy evaluation asks a Q network for `predict(outputs=[head.q_values,
head.softmax])`, TensorFlow tensors Coach's MXNet heads do not have (and MXNet `predict` takes
no `outputs`): Q heads get those two names as markers, and `predict` answers them from the
forward pass (softmax with the network's `softmax_temperature`, as TensorFlow's QHead does).
Acting with softmax probabilities (a batch RL agent's evaluation) reads the network's
`outputs`, which MXNet networks also lack: they get one marker per Q head.

`adapt(graph_manager)`: DDQN-BCQ's k-NN action filter looks states up by the reward model's
`state_embedding`, which only Coach's TensorFlow networks expose; on MXNet it uses the raw
states instead (Coach's own `use_state_embedding_instead_of_state=False`), with a warning.
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

_installed = False


class HeadOutput:
    """Stands for a TensorFlow head tensor (`q_values`, `softmax`) in `predict(outputs=...)`."""

    def __init__(self, head: Any, kind: str) -> None:
        self.head = head
        self.kind = kind


def head_outputs(self: Any, raw: Any, outputs: list[HeadOutput]) -> list[Any]:
    import numpy as np
    from rl_coach.architectures.mxnet_components import utils

    raw = tuple(raw) if isinstance(raw, (list, tuple)) else (raw,)
    heads = list(self.model.output_heads)
    per_head = utils.split_outputs_per_head(raw, heads)
    answers = []
    for output in outputs:
        q_values = per_head[heads.index(output.head)][0].asnumpy()
        if output.kind == "softmax":
            scaled = q_values / self.network_parameters.softmax_temperature
            exp = np.exp(scaled - scaled.max(axis=1, keepdims=True))
            q_values = exp / exp.sum(axis=1, keepdims=True)
        answers.append(q_values)
    return answers


def install() -> None:
    global _installed
    if _installed:
        return
    from rl_coach.architectures.mxnet_components.architecture import MxnetArchitecture
    from rl_coach.architectures.mxnet_components.heads.q_head import QHead

    QHead.q_values = property(lambda head: HeadOutput(head, "q_values"))
    QHead.softmax = property(lambda head: HeadOutput(head, "softmax"))
    MxnetArchitecture.outputs = property(
        lambda network: [
            HeadOutput(head, "q_values")
            for head in network.model.output_heads
            if isinstance(head, QHead)
        ]
    )
    original_predict = MxnetArchitecture.predict

    @functools.wraps(original_predict)
    def predict(self: Any, inputs: Any, outputs: Any = None, *args: Any, **kwargs: Any) -> Any:
        if outputs and all(isinstance(output, HeadOutput) for output in outputs):
            return head_outputs(self, self._predict(inputs), outputs)
        return original_predict(self, inputs, outputs, *args, **kwargs)

    MxnetArchitecture.predict = predict
    original = MxnetArchitecture.apply_gradients

    @functools.wraps(original)
    def apply_gradients(
        self: Any, gradients: Any, scaler: float = 1.0, additional_inputs: Any = None
    ) -> None:
        return original(self, gradients, scaler)

    MxnetArchitecture.apply_gradients = apply_gradients
    _bridge_constant_initializer()
    _installed = True


def _bridge_constant_initializer() -> None:
    """MXNet >= 1.6 serializes a `Constant` initializer's value with `.asnumpy()` unless it is a
    numpy array; Coach's PPO heads pass a list (`Constant([initial_kl_coefficient])`), which
    failed at the first hybridized forward pass. Lists and tuples become numpy arrays there
    (1.5 serializes the value with json as given, so it is left alone)."""
    import mxnet as mx
    import numpy as np

    if tuple(int(part) for part in mx.__version__.split(".")[:2]) < (1, 6):
        return
    original = mx.init.Constant.__init__

    @functools.wraps(original)
    def __init__(self: Any, value: Any) -> None:
        if isinstance(value, (list, tuple)):
            value = np.asarray(value, dtype=np.float32)
        original(self, value)

    mx.init.Constant.__init__ = __init__


# Agents whose first training step fails inside Coach 1.0's MXNet components (measured by
# tests/catalogue): refused before the heatup, naming the image that trains them.
MXNET_CANNOT_TRAIN = {
    "NStepQAgent": "its accumulate_gradients receives no gradients (TypeError)",
    "BootstrappedDQNAgent": "its per-head targets do not match the MXNet loss schema",
}


def adapt(graph_manager: Any) -> None:
    agents = getattr(graph_manager, "agents_params", None) or [graph_manager.agent_params]
    for agent_params in agents:
        agent = str(getattr(agent_params, "path", "")).rsplit(":", 1)[-1]
        if agent in MXNET_CANNOT_TRAIN:
            raise UserError(
                f"Coach 1.0's MXNet backend cannot train {agent}: "
                f"{MXNET_CANNOT_TRAIN[agent]}; run this preset on a coach-tensorflow image"
            )
        algorithm = getattr(agent_params, "algorithm", None)
        action_drop = getattr(algorithm, "action_drop_method_parameters", None)
        if getattr(action_drop, "use_state_embedding_instead_of_state", False):
            action_drop.use_state_embedding_instead_of_state = False
            logger.warning(
                "Coach's MXNet networks expose no state embedding: the k-NN action filter "
                "(%s) indexes raw states instead",
                type(action_drop).__name__,
            )


def refuse_unsupported_part(preset: str, error: KeyError) -> None:
    """Coach's MXNet graph builder raises `KeyError('Unsupported head type: <class ...>')` for
    a part it has no class for: fail in one line naming it (`DuelingQHeadParameters (head
    type)`); any other KeyError is left to the caller."""
    message = str(error.args[0]) if error.args else ""
    if not message.startswith("Unsupported "):
        return
    match = re.search(r"'([\w.]+)'", message)
    name = match.group(1).rsplit(".", 1)[-1] if match else message
    kind = message.split(":", 1)[0].removeprefix("Unsupported ").strip()
    raise UserError(
        f"preset {preset} uses {name} ({kind}), which Coach 1.0's MXNet backend does not "
        f"implement (it has Q, V, PPO and PPO-V heads): run this preset on a coach-tensorflow "
        f"image"
    ) from error
