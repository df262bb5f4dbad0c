"""Greedy evaluation on demand: before a job stops on its mean return, the policy as it will be
exported (and served: deterministic actions) plays a few episodes of its own and must reach the
same mean.

Why: the training mean comes from the exploring policy, and from episodes sampled before the
iteration's last update, so it can reach a target the exported policy does not; a job that says
"solved" should hand over a policy that is.
"""

from __future__ import annotations

from typing import Any

# RLlib creates an evaluation EnvRunner only for a configured evaluation interval. One this
# long never comes due, so that runner plays only when the trainer asks (Algorithm.evaluate).
ON_DEMAND_INTERVAL = 10**9


def configure(config: Any, episodes: int) -> None:
    """Add an on-demand evaluation runner (in the driver, no extra CPU) to a zero-code config.
    RLlib's old API stack (TensorFlow) is left alone: its local evaluation counts sample
    batches, not episodes, and its training mean already covers RLlib's 100-episode window.
    An `rl.evaluation.*` override given by the user is applied afterwards and wins."""
    if episodes <= 0 or not config.enable_env_runner_and_connector_v2:
        return
    config.evaluation(
        evaluation_interval=ON_DEMAND_INTERVAL,
        evaluation_num_env_runners=0,
        evaluation_duration=episodes,
        evaluation_duration_unit="episodes",
        evaluation_config={"explore": False},
    )


def available(algo: Any) -> bool:
    """Whether `algo` has an evaluation runner for `Algorithm.evaluate` to play on."""
    return getattr(algo, "eval_env_runner_group", None) is not None
