"""Run Coach 1.0's TensorFlow 1.x code on TensorFlow 2.15, without touching Coach.

Coach does `import tensorflow as tf` and uses the TF 1.x graph API plus seven `tf.contrib`
symbols. `install()` (called before anything imports Coach's TensorFlow components) makes the
module name `tensorflow` resolve to `tensorflow.compat.v1` with v2 behaviour disabled, and gives
it a `contrib` namespace of the TF 2.x / tensorflow-probability counterparts:

  contrib.layers.xavier_initializer     -> glorot (Xavier) initializers
  contrib.layers.flatten                -> compat.v1.layers.flatten
  contrib.distributions, distributions  -> tensorflow_probability.distributions (both, because
                                           a KL divergence between TF 1's and tfp's classes is
                                           not registered)
  contrib.framework.load_checkpoint     -> train.load_checkpoint
  contrib.framework.get_name_scope      -> the default graph's name scope
  contrib.opt.ScipyOptimizerInterface   -> not available: a clear error if a preset needs it

and `placeholder` takes a shape whose dimensions are one-element numpy arrays, as TF 1.x did
(Coach's SAC policy head passes a Box space's `shape` array as one dimension).

`tensorflow.python...` imports keep working: those submodules are the real ones.
"""

from __future__ import annotations

import sys
import types
from typing import Any

_installed = False


class _ScipyOptimizerInterfaceUnavailable:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "tf.contrib.opt.ScipyOptimizerInterface (Coach's `scipy` optimizer) has no TensorFlow "
            "2 counterpart in this image: choose another optimizer_type in the preset"
        )


def install() -> None:
    global _installed
    if _installed:
        return
    import tensorflow as real_tf
    import tensorflow_probability as tfp

    v1 = real_tf.compat.v1
    v1.disable_v2_behavior()

    def xavier_initializer(
        uniform: bool = True, seed: Any = None, dtype: Any = real_tf.float32
    ) -> Any:
        if uniform:
            return v1.glorot_uniform_initializer(seed=seed, dtype=dtype)
        return v1.glorot_normal_initializer(seed=seed, dtype=dtype)

    contrib = types.SimpleNamespace(
        layers=types.SimpleNamespace(
            xavier_initializer=xavier_initializer, flatten=v1.layers.flatten
        ),
        distributions=tfp.distributions,
        framework=types.SimpleNamespace(
            load_checkpoint=v1.train.load_checkpoint,
            get_name_scope=lambda: v1.get_default_graph().get_name_scope(),
        ),
        opt=types.SimpleNamespace(ScipyOptimizerInterface=_ScipyOptimizerInterfaceUnavailable),
    )
    v1.contrib = contrib
    v1.placeholder = _placeholder_taking_numpy_dims(v1.placeholder)
    v1.distributions = tfp.distributions
    sys.modules["tensorflow"] = v1
    _installed = True


def _placeholder_taking_numpy_dims(placeholder: Any) -> Any:
    def plain(dim: Any) -> Any:
        if dim is None or isinstance(dim, int):
            return dim
        try:
            return int(dim)  # a numpy integer, or a one-element array (Coach's SAC head)
        except (TypeError, ValueError):
            return dim

    def wrapped(dtype: Any, shape: Any = None, name: Any = None) -> Any:
        if isinstance(shape, (list, tuple)):
            shape = [plain(dim) for dim in shape]
        return placeholder(dtype, shape, name)

    return wrapped
