"""Read RLlib's result dicts (either API stack) into the metrics every image logs."""

from __future__ import annotations

from typing import Any

from sagemaker_rl_container.metrics import IterationMetrics, as_float


def to_metrics(
    result: dict[str, Any], policy_agents: dict[str, list[str]] | None = None
) -> IterationMetrics:
    """Map an RLlib result dict (new or old API stack) to the metrics every image logs;
    `policy_agents`: a multi-agent job's policies and the agents acting with each."""
    runners = result.get("env_runners", {})
    if (
        "episode_return_mean" not in runners
        and "evaluation" in result
        and not runners.get("num_env_steps_sampled")
    ):
        # Offline algorithms sample nothing: their returns come from evaluation in the env.
        # (An online job's iteration may end no episode: its last evaluation is no stand-in.)
        runners = {**runners, **result["evaluation"].get("env_runners", {})}
    learner = result.get("learners", {}).get("default_policy", {})
    if not learner:  # old API stack
        learner = result.get("info", {}).get("learner", {}).get("default_policy", {})
        learner = learner.get("learner_stats", learner)
    mean, episodes = episode_returns(runners)
    return IterationMetrics(
        iteration=int(result["training_iteration"]),
        timesteps_total=int(
            result.get("num_env_steps_sampled_lifetime")
            or runners.get("num_env_steps_sampled_lifetime")
            or result.get("timesteps_total")
            or 0
        ),
        episodes_total=int(runners.get("num_episodes_lifetime", result.get("episodes_total", 0))),
        episode_return_mean=mean,
        episode_return_min=as_float(
            runners.get("episode_return_min", runners.get("episode_reward_min"))
        ),
        episode_return_max=as_float(
            runners.get("episode_return_max", runners.get("episode_reward_max"))
        ),
        episode_len_mean=as_float(runners.get("episode_len_mean")),
        time_this_iter_s=as_float(result.get("time_this_iter_s")),
        time_total_s=as_float(result.get("time_total_s")),
        episodes_this_iter=episodes,
        losses=_losses(learner or _first_module(result, policy_agents)),
        policies=_by_policy(runners, policy_agents or {}),
    )


def _losses(learner: dict[str, Any]) -> dict[str, float]:
    return {
        key: as_float(value)
        for key, value in learner.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _first_module(result: dict[str, Any], policy_agents: dict[str, list[str]] | None) -> dict:
    """A multi-agent job's losses in the metric line: its first trained policy's (each
    policy's own are in RLlib's result)."""
    learners = result.get("learners", {})
    return next((learners[p] for p in policy_agents or {} if p in learners), {})


def _by_policy(
    runners: dict[str, Any], policy_agents: dict[str, list[str]]
) -> dict[str, dict[str, float]]:
    """Each policy's mean return (RLlib sums its agents' returns in an episode) and the mean
    episode length of its agents (the steps each acted)."""
    returns = runners.get("module_episode_returns_mean", {})
    steps = runners.get("agent_steps", {})
    figures = {}
    for policy, agents in policy_agents.items():
        lengths = [as_float(steps[agent]) for agent in agents if agent in steps]
        figures[policy] = {
            "episode_return_mean": as_float(returns.get(policy)),
            "episode_len_mean": sum(lengths) / len(lengths) if lengths else as_float(None),
        }
    return figures


def episode_returns(runners: dict[str, Any]) -> tuple[float, int | None]:
    """The mean return and how many episodes it averages (None: not said), from a result's
    `env_runners` on either API stack."""
    mean = runners.get("episode_return_mean", runners.get("episode_reward_mean"))
    episodes = runners.get("num_episodes", runners.get("episodes_this_iter"))
    return as_float(mean), (None if episodes is None else int(episodes))


def lifetime_steps(algo: Any) -> int:
    """Env steps sampled since the job first started (restored with a checkpoint)."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    if algo.config.enable_env_runner_and_connector_v2:
        value = algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
    else:
        value = getattr(algo, "_counters", {}).get("num_env_steps_sampled", 0)
    return int(value or 0)
