"""Run Coach 1.0's MXNet path, without touching Coach.

Coach 1.0's `NetworkWrapper` passes `additional_inputs=` to `apply_gradients`, which its
TensorFlow architecture accepts and its MXNet architecture (written for Coach 0.11) does not:
every MXNet training step failed with a TypeError. `install()` wraps
`MxnetArchitecture.apply_gradients` to accept and drop that argument (the MXNet architecture
has no use for it: its gradients already carry everything). MXNet itself must be 1.5.x with
numpy < 1.24 (the image pins both).
"""

from __future__ import annotations

import functools
from typing import Any

_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    from rl_coach.architectures.mxnet_components.architecture import MxnetArchitecture

    original = MxnetArchitecture.apply_gradients

    @functools.wraps(original)
    def apply_gradients(
        self: Any, gradients: Any, scaler: float = 1.0, additional_inputs: Any = None
    ) -> None:
        return original(self, gradients, scaler)

    MxnetArchitecture.apply_gradients = apply_gradients
    _installed = True
