"""The torch RLModule's deterministic inference path as an ONNX policy, and the ONNX contract
every export keeps (the TensorFlow one too, saved_model.py): `observations` [batch, *obs_shape]
float32 in; `actions` (already mapped to the env's action space), `action_dist_inputs` and, for
discrete actions, `action_probs` out; the batch dimension dynamic. The exported graph is checked
against the policy it came from.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.ray_rllib import offline

ONNX_FILE = "policy.onnx"
OBSERVATIONS = "observations"
ONNX_OPSET = 17
PARITY_TOLERANCE = 1e-4


def export_onnx_policy(
    algo: Any,
    path: Path,
    obs_space: gym.Space,
    action_space: gym.Space,
    input_scale: float | None = None,
    module_id: str | None = None,
) -> dict[str, Any]:
    """policy.onnx at `path`; `input_scale` multiplies the observations first (byte images,
    which the module was trained on scaled), so the graph takes the env's own values;
    `module_id`: a multi-agent job's policy."""
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

    module = offline.policy_module(algo, module_id)
    if module.is_stateful():
        raise UserError(
            f"{type(module).__name__} keeps a recurrent state between steps (its "
            f"get_initial_state), which the ONNX policy (observations in, actions out) does "
            f"not carry; Algorithm.from_checkpoint restores the checkpoint in model/"
        )
    sample = np.stack([obs_space.sample() for _ in range(8)]).astype(np.float32)
    with torch.no_grad():
        probe = module.forward_inference(
            {Columns.OBS: torch.from_numpy(sample * np.float32(input_scale or 1.0))}
        )
    # Some modules (DQN's) compute the action themselves and expose no distribution inputs.
    direct = Columns.ACTION_DIST_INPUTS not in probe and Columns.ACTIONS in probe
    policy = inference_policy(module, action_space, algo.config, direct, input_scale).eval()
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
    return onnx_metadata(obs_space, outputs)


def onnx_metadata(
    obs_space: gym.Space, outputs: list[str], file: str = ONNX_FILE
) -> dict[str, Any]:
    """metadata.json's description of policy.onnx, the same for every framework's export;
    `file`: where it is in model/."""
    return {
        "file": file,
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

        def __init__(
            self,
            module: Any,
            action_space: gym.Space,
            config: Any,
            direct: bool,
            input_scale: float | None,
        ) -> None:
            super().__init__()
            self.module = module
            self.direct = direct
            self.input_scale = input_scale
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

            if self.input_scale is not None:
                observations = observations * self.input_scale
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
    module: Any,
    action_space: gym.Space,
    config: Any,
    direct: bool = False,
    input_scale: float | None = None,
) -> Any:
    """The torch module ONNX export traces: `module`'s deterministic, env-ready actions
    (`direct`: the module outputs actions itself; `input_scale`: observations are multiplied
    by it first)."""
    return _inference_policy_class()(module, action_space, config, direct, input_scale)


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
