"""RL Coach launcher: presets, dotted overrides, checkpoints, metrics and export for Coach 1.0,
with the compatibility layer (tf_compat, mxnet_compat) that runs it on current frameworks."""
