"""A CNN for image observations of any size, where RLlib has none.

RLlib builds a CNN encoder for an `(H, W, C)` observation from the model config's
`conv_filters`, and has defaults for a few sizes only (96, 84, 64, 42 and 10 pixels square);
any other image, a user's rendered grid world, say, fails the job at build time. A zero-code
job gets filters here instead: 4x4 convolutions of stride 2, 16 channels doubling per layer,
until the image is about 6 pixels across, then RLlib's own dense layers. RLlib's old API stack
(the TensorFlow images) wants its CNN to end in a 1x1 feature map, as its own defaults do (42
pixels: 21, 11, then an 11x11 "valid" convolution): there the same layers end with one
convolution as large as what is left. A user's `conv_filters` (rl.rl_module.model_config, or
rl.training.model on the old stack) always wins.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

logger = logging.getLogger(__name__)

# Stop halving once the feature map is this small: the dense layers take it from there.
SMALLEST_FEATURE_MAP = 6
CHANNELS = (16, 32, 64, 128)


def image_shape(observation_space: Any) -> tuple[int, int, int] | None:
    """(H, W, C) of an image observation space, None for anything else."""
    import gymnasium as gym

    if isinstance(observation_space, gym.spaces.Box) and len(observation_space.shape) == 3:
        height, width, channels = (int(n) for n in observation_space.shape)
        return height, width, channels
    return None


def filters(height: int, width: int) -> list[list[int]]:
    """[out_channels, kernel, stride] per layer, for RLlib's `conv_filters`."""
    size = min(height, width)
    layers: list[list[int]] = []
    while size > SMALLEST_FEATURE_MAP and len(layers) < len(CHANNELS):
        layers.append([CHANNELS[len(layers)], 4 if size >= 8 else 3, 2])
        size = math.ceil(size / 2)
    return layers or [[CHANNELS[0], 3, 1]]


def old_stack_filters(height: int, width: int) -> list[list[Any]]:
    """`filters`, then one "valid" convolution over what is left, for the old stack's vision
    network: each layer before it pads ("same"), so a stride of 2 leaves ceil(size / 2)."""
    layers: list[list[Any]] = [list(layer) for layer in filters(height, width)]
    for _, _, stride in layers:
        height, width = math.ceil(height / stride), math.ceil(width / stride)
    return [*layers, [256, [height, width], 1]]


def configure(config: Any, observation_space: Any) -> None:
    """Give `config` CNN filters for an image observation RLlib has no default for."""
    shape = image_shape(observation_space)
    if shape is None:
        return
    new_stack = config.enable_rl_module_and_learner
    if (config.model_config if new_stack else config.model).get("conv_filters"):
        return
    from ray.rllib.models.utils import get_filter_config

    try:
        get_filter_config(shape)
        return  # RLlib has a default for this size
    except ValueError:
        pass
    if not new_stack:
        chosen = old_stack_filters(shape[0], shape[1])
        config.training(model={**config.model, "conv_filters": chosen})
        _log(shape, chosen, "rl.training.model")
        return
    chosen = filters(shape[0], shape[1])
    current = config._model_config
    if dataclasses.is_dataclass(current):
        config.rl_module(model_config=dataclasses.replace(current, conv_filters=chosen))
    else:
        config.rl_module(model_config={**(current or {}), "conv_filters": chosen})
    _log(shape, chosen, "rl.rl_module.model_config")


def _log(shape: tuple[int, int, int], chosen: list, where: str) -> None:
    logger.info(
        "Image observations %s: CNN filters %s ([channels, kernel, stride]; choose others "
        "with %s's conv_filters)",
        "x".join(str(n) for n in shape),
        chosen,
        where,
    )
