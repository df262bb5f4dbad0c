"""Run one RLlib training job: start Ray, build the algorithm, resume, train, checkpoint, export."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagemaker_rl_container import background_imports, signals
from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError, summarize
from sagemaker_rl_container.metrics import IterationMetrics, metrics_line, print_line
from sagemaker_rl_container.ray_rllib import (
    algorithm_config,
    algorithm_state,
    cluster,
    environments,
    evaluation,
    export,
    offline,
)
from sagemaker_rl_container.stopping import RecentReturns, StopConditions
from sagemaker_rl_container.training_curve import TrainingCurve

logger = logging.getLogger(__name__)

# Used when the job sets no rl_stop_* at all: stop at the env's own "solved" threshold when it
# has one, and in any case after this many iterations, so a job never runs unbounded by mistake.
DEFAULT_MAX_ITERATIONS = 100
# Inside a checkpoint directory, beside the manifest.
ALGORITHM_STATE = "algorithm"


@dataclass(frozen=True)
class TrainingSummary:
    iterations: int
    timesteps: int
    episode_return_mean: float
    stop_reason: str
    resumed_from: str | None


def run(
    contract: TrainingContract,
    job: JobConfig,
    base_config: Any | None = None,
    before_build: Callable[[], None] | None = None,
) -> TrainingSummary:
    """Train as `job` says. `base_config`/`before_build` come from a script-mode launcher.

    On a multi-host job this runs on the head host only (see cluster.py); the outcome is
    published to the other hosts whichever way it goes.
    """
    if not contract.is_distributed:
        return _run(contract, job, base_config, before_build, head=None)
    nodes = cluster.layout(contract, job.head_instance_group)
    head = cluster.Head(contract, nodes, job.cluster_timeout)
    try:
        summary = _run(contract, job, base_config, before_build, head)
    except BaseException as error:
        head.stop(False, str(error) if isinstance(error, UserError) else summarize(error))
        raise
    head.stop(True)
    return summary


def _run(
    contract: TrainingContract,
    job: JobConfig,
    base_config: Any | None,
    before_build: Callable[[], None] | None,
    head: cluster.Head | None,
) -> TrainingSummary:
    local = algorithm_config.Resources(cpus=contract.num_cpus, gpus=contract.num_gpus)
    env = _resolve_env(job, base_config)
    rllib_env = env.rllib_env if env else None
    algorithm = (
        job.algorithm if base_config is None else algorithm_config.algorithm_name(base_config)
    )
    datasets = {
        "dataset_input": offline.input_dir(contract, job, algorithm),
        "dataset_output": offline.record_dir(contract, job),
    }
    stop = _stop_conditions(job, env)
    # Offline jobs' returns already come from evaluation episodes (offline.py).
    evaluation_episodes = (
        job.stop_evaluation_episodes
        if stop.mean_return is not None and datasets["dataset_input"] is None
        else 0
    )
    # Validate everything before Ray starts; a cluster's resources are known once it formed.
    config = algorithm_config.build(
        job,
        local,
        rllib_env,
        base_config,
        check=head is None,
        evaluation_episodes=evaluation_episodes,
        **datasets,
    )
    store = CheckpointStore(contract.checkpoint_dir, keep=job.checkpoint_keep)
    store.remove_partials()
    identity = {
        "algorithm": algorithm_config.algorithm_name(config),
        "env": env.spec if env else str(config.env),
    }

    # Created before Ray starts so that its slow imports overlap Ray's start (it has no other
    # side effect until the first iteration is recorded).
    curve = TrainingCurve.for_job(contract, f"{identity['algorithm']} on {identity['env']}")
    if config.framework_str == "torch":
        # Building the first torch optimizer imports torch._dynamo (~1 s on 2 CPUs); Ray's
        # start mostly waits on its own processes, so import it meanwhile.
        background_imports.start("torch._dynamo")

    import ray

    try:
        if head is not None:
            head.start()
            config = algorithm_config.build(
                job,
                _cluster_resources(),
                rllib_env,
                base_config,
                check=True,
                evaluation_episodes=evaluation_episodes,
                **datasets,
            )
        else:
            _init_ray(contract)
        logger.info(
            "Training %s on %s with %s, %d env runners; stop at %s; checkpoints in %s",
            identity["algorithm"],
            identity["env"],
            config.framework_str,
            config.num_env_runners,
            stop.describe(),
            store.root,
        )
        if datasets["dataset_input"] is not None:
            logger.info(
                "Training from the offline dataset in %s (%d Parquet files); the env only "
                "evaluates the policy",
                datasets["dataset_input"],
                sum(1 for _ in datasets["dataset_input"].rglob("*.parquet")),
            )
        if datasets["dataset_output"] is not None:
            logger.info("Recording every sampled transition into %s", datasets["dataset_output"])
        signals.install()
        if env is not None:
            environments.register(env)
        if before_build is not None:
            before_build()
        session = _Session(_build_algorithm(config, identity), store, identity, curve)
        if evaluation_episodes and evaluation.available(session.algo):
            stop.evaluate = session.evaluate
            logger.info(
                "Before stopping on the mean return, the policy as exported plays "
                "evaluation episodes (rl_stop_evaluation_episodes=%d)",
                evaluation_episodes,
            )
        if head is not None:
            head.log_placement(session.algo)
        try:
            resumed = session.resume()
            reason = session.train(
                stop, job.checkpoint_frequency, head.check_hosts if head else None
            )
            logger.info("Training stopped: %s", reason)
            final = session.checkpoint()
            summary = TrainingSummary(
                iterations=final.iteration,
                timesteps=final.manifest["timesteps"],
                # null in the manifest when no episode has finished yet
                episode_return_mean=_float(final.manifest["episode_return_mean"]),
                stop_reason=reason,
                resumed_from=resumed,
            )
            description = {
                **identity,
                "env_config": dict(config.env_config or {}),
                "training": {
                    "iterations": summary.iterations,
                    "timesteps": summary.timesteps,
                    "episode_return_mean": _json_number(summary.episode_return_mean),
                    # what a mean-return stop condition compares: the last N episodes' mean
                    "recent_episode_return_mean": _json_number(stop.recent.mean),
                    "recent_episodes": stop.recent.count,
                    # the evaluation that confirmed (or last refused) a mean-return stop
                    "evaluation_return_mean": _json_number(
                        stop.evaluation[0] if stop.evaluation else math.nan
                    ),
                    "evaluation_episodes": stop.evaluation[1] if stop.evaluation else 0,
                    "stop_reason": reason,
                    "resumed_from": resumed,
                    "hosts": len(contract.hosts),
                },
            }
            export.export_model(session.algo, contract.model_dir, description, job.export_onnx)
            logger.info(
                "Model exported to %s: %s",
                contract.model_dir,
                ", ".join(sorted(path.name for path in contract.model_dir.iterdir())),
            )
            return summary
        finally:
            curve.close()
            session.algo.stop()
    finally:
        ray.shutdown()


def _cluster_resources() -> algorithm_config.Resources:
    import ray

    total = ray.cluster_resources()
    return algorithm_config.Resources(cpus=int(total.get("CPU", 0)), gpus=int(total.get("GPU", 0)))


class _Session:
    """One built algorithm and the checkpoints it reads and writes."""

    def __init__(
        self, algo: Any, store: CheckpointStore, identity: dict[str, str], curve: TrainingCurve
    ) -> None:
        self.algo = algo
        self.store = store
        self.identity = identity
        self.curve = curve
        self.last: IterationMetrics | None = None

    def resume(self) -> str | None:
        """Restore the newest checkpoint that works; None when starting fresh."""
        candidates = self.store.valid()
        problems = []
        for checkpoint in candidates:
            saved = {key: checkpoint.manifest.get(key) for key in self.identity}
            if saved != self.identity:
                problem = (
                    f"it holds {saved['algorithm']} on {saved['env']}, this job trains "
                    f"{self.identity['algorithm']} on {self.identity['env']}"
                )
            else:
                try:
                    algorithm_state.restore(self.algo, checkpoint.path / ALGORITHM_STATE)
                except Exception as error:
                    problem = summarize(error)
                else:
                    logger.info(
                        "Resumed from %s: training continues at iteration %d",
                        checkpoint.describe(),
                        self.algo.iteration + 1,
                    )
                    self.curve.resume(int(self.algo.iteration))
                    return checkpoint.path.name
            logger.warning("Checkpoint %s is unusable: %s", checkpoint.describe(), problem)
            problems.append(f"{checkpoint.path.name}: {problem}")
        if problems:
            raise UserError(
                f"no usable checkpoint in {self.store.root} ({'; '.join(problems)}): remove "
                f"them, or give the job another checkpoint location, to start over"
            )
        self.curve.resume(0)  # a fresh start: an older run's history is not this one's
        return None

    def train(
        self,
        stop: StopConditions,
        checkpoint_frequency: int,
        check_cluster: Callable[[], None] | None = None,
    ) -> str:
        already = stop.already_reached(self.algo.iteration, _lifetime_steps(self.algo))
        if already:
            return f"{already}, reached before this run"
        start = time.monotonic()
        while True:
            metrics = to_metrics(self.algo.train())
            self.last = metrics
            elapsed = time.monotonic() - start
            stop.record(metrics)
            print_line(metrics_line(metrics))
            print_line(progress_line(metrics, stop, elapsed))
            self.curve.record(metrics)  # after the metrics line: logs first, the view second
            reason = stop.reached(metrics, elapsed)
            if reason:
                return reason
            if check_cluster is not None:
                try:
                    check_cluster()
                except UserError:
                    self.checkpoint()
                    raise
            if signals.requested():
                saved = self.checkpoint()
                raise TrainingInterrupted(
                    f"training interrupted by SIGTERM after iteration {metrics.iteration}; "
                    f"{saved.path.name} saved in {self.store.root}: run the job again with the "
                    f"same checkpoint location to resume"
                )
            if checkpoint_frequency and metrics.iteration % checkpoint_frequency == 0:
                self.checkpoint()

    def evaluate(self) -> tuple[float, int]:
        """Mean return and episode count of one evaluation (see evaluation.py)."""
        mean, episodes = _episode_returns(self.algo.evaluate().get("env_runners", {}))
        return mean, episodes or 0

    def checkpoint(self) -> Checkpoint:
        started = time.monotonic()
        iteration = int(self.algo.iteration)
        mean_return = self.last.episode_return_mean if self.last else math.nan
        saved = self.store.save(
            iteration,
            lambda directory: algorithm_state.save(self.algo, directory / ALGORITHM_STATE),
            {
                **self.identity,
                "timesteps": _lifetime_steps(self.algo),
                "episode_return_mean": _json_number(mean_return),
            },
        )
        logger.info("Checkpoint %s saved in %.2f s", saved.describe(), time.monotonic() - started)
        return saved


def to_metrics(result: dict[str, Any]) -> IterationMetrics:
    """Map an RLlib result dict (new or old API stack) to the metrics every image logs."""
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
    mean, episodes = _episode_returns(runners)
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
        episode_return_min=_float(
            runners.get("episode_return_min", runners.get("episode_reward_min"))
        ),
        episode_return_max=_float(
            runners.get("episode_return_max", runners.get("episode_reward_max"))
        ),
        episode_len_mean=_float(runners.get("episode_len_mean")),
        time_this_iter_s=_float(result.get("time_this_iter_s")),
        time_total_s=_float(result.get("time_total_s")),
        episodes_this_iter=episodes,
        losses={
            key: _float(value)
            for key, value in learner.items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        },
    )


def progress_line(metrics: IterationMetrics, stop: StopConditions, elapsed_s: float) -> str:
    returns = (
        "no episode finished yet"
        if math.isnan(metrics.episode_return_mean)
        else f"return {metrics.episode_return_mean:.1f} "
        f"(min {metrics.episode_return_min:.1f}, max {metrics.episode_return_max:.1f})"
    )
    return (
        f"Iteration {metrics.iteration}: {metrics.timesteps_total} env steps, {returns}, "
        f"{metrics.time_this_iter_s:.1f} s this iteration, {elapsed_s:.0f} s elapsed; "
        f"stop at {stop.progress(metrics, elapsed_s)}"
    )


def _resolve_env(job: JobConfig, base_config: Any | None) -> environments.ResolvedEnv | None:
    # A script-mode config that names its own env keeps it unless rl_env is given explicitly.
    if (
        base_config is not None
        and base_config.env is not None
        and "env" not in job.model_fields_set
    ):
        return None
    return environments.resolve(job.env, job.env_config)


def _stop_conditions(job: JobConfig, env: environments.ResolvedEnv | None) -> StopConditions:
    recent = RecentReturns(job.stop_mean_return_episodes)
    if job.has_stop_condition:
        return StopConditions(
            iterations=job.stop_iterations,
            timesteps=job.stop_timesteps,
            mean_return=job.stop_mean_return,
            seconds=job.stop_seconds,
            recent=recent,
        )
    threshold = env.reward_threshold if env is not None else None
    return StopConditions(iterations=DEFAULT_MAX_ITERATIONS, mean_return=threshold, recent=recent)


def _init_ray(contract: TrainingContract) -> None:
    import ray

    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    ray.init(
        # Always a new single-host instance, never another cluster found on this machine.
        address="local",
        num_cpus=contract.num_cpus,
        num_gpus=contract.num_gpus,
        include_dashboard=False,
        configure_logging=False,
    )


def _build_algorithm(config: Any, identity: dict[str, str]) -> Any:
    try:
        return config.build_algo()
    except Exception as error:
        raise UserError(
            f"RLlib could not build {identity['algorithm']} for env {identity['env']}: "
            f"{summarize(error)}"
        ) from error


def _lifetime_steps(algo: Any) -> int:
    """Env steps sampled since the job first started (restored with a checkpoint)."""
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    if algo.config.enable_env_runner_and_connector_v2:
        value = algo.metrics.peek((ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME), default=0)
    else:
        value = getattr(algo, "_counters", {}).get("num_env_steps_sampled", 0)
    return int(value or 0)


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _episode_returns(runners: dict[str, Any]) -> tuple[float, int | None]:
    """The mean return and how many episodes it averages (None: not said), from a result's
    `env_runners` on either API stack."""
    mean = runners.get("episode_return_mean", runners.get("episode_reward_mean"))
    episodes = runners.get("num_episodes", runners.get("episodes_this_iter"))
    return _float(mean), (None if episodes is None else int(episodes))


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else value
