"""The Ray RLlib launcher: builds an `AlgorithmConfig` from the job, trains, checkpoints, exports."""
