"""The Ray RLlib launcher: builds the AlgorithmConfig, trains, checkpoints and exports."""
