"""Ray's floor, configured: the AlgorithmConfig an RLlib user would write to do what a zero-code
job does, from the settings bench/measure.py's zero_code_sections() reads back from `train`'s own
config. Shared by the bare RLlib scripts (bare_rllib.py, bare_rllib_solve.py), which run with
none of our code: in the development venv or, mounted at /bench, in an image."""

from __future__ import annotations

from typing import Any

# Settings RLlib takes as a (low, high) range only as a tuple: JSON brought them as lists.
RANGES = {"n_step"}


def rllib_config(settings: dict[str, Any]) -> Any:
    """settings: {"algorithm": "PPO", "env": "CartPole-v1", "sections": {method: kwargs}}."""
    from ray.tune.registry import get_trainable_cls

    config = get_trainable_cls(settings["algorithm"]).get_default_config()
    config.environment(settings["env"])
    for section, kwargs in settings["sections"].items():
        getattr(config, section)(
            **{
                key: tuple(value) if key in RANGES and isinstance(value, list) else value
                for key, value in kwargs.items()
            }
        )
    return config
