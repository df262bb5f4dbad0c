"""The Coach launcher: load the user's preset, apply overrides, run Coach's own `improve()`
loop, and around it do what every image does: metrics lines, checkpoints in /opt/ml/checkpoints
(resumed on restart), SIGTERM handling, export to /opt/ml/model, one-line failures.

An iteration is one of Coach's evaluation periods: `steps_between_evaluation_periods` of acting
and training, then `evaluate(evaluation_steps)` (for batch RL without a simulator: one epoch and
its off-policy evaluation). The launcher wraps those graph-manager methods on the instance to
observe them; Coach's classes stay untouched.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagemaker_rl_container import signals, source_dir
from sagemaker_rl_container.checkpoints import Checkpoint, CheckpointStore
from sagemaker_rl_container.coach import overrides
from sagemaker_rl_container.coach.config import PRESET_KEY, CoachConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError, summarize
from sagemaker_rl_container.metrics import IterationMetrics, metrics_line, print_line
from sagemaker_rl_container.training_curve import TrainingCurve

logger = logging.getLogger(__name__)

COUNTERS = ("EnvironmentEpisodes", "EnvironmentSteps", "TrainingSteps")
AGENT_COUNTERS = ("total_steps_counter", "current_episode", "training_iteration", "training_epoch")


def framework() -> str:
    """The image's deep-learning framework: TensorFlow or MXNet (whichever is installed)."""
    return "tensorflow" if importlib.util.find_spec("tensorflow") else "mxnet"


@dataclass
class Summary:
    iterations: int = 0
    timesteps: int = 0
    evaluation_return_mean: float = math.nan
    stop_reason: str = "improve_steps reached"
    exported: list[str] = field(default_factory=list)


# ---- the preset ------------------------------------------------------------------------------


def load_preset(name: str, source: Path | None) -> Any:
    """The preset's `graph_manager`: from `<source>/<name>.py`, else Coach's `rl_coach.presets`."""
    stem = name[:-3] if name.endswith(".py") else name
    path = source / f"{stem}.py" if source else None
    if path is not None and path.is_file():
        spec = importlib.util.spec_from_file_location(f"coach_preset_{abs(hash(stem))}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise UserError(f"preset {path.name} failed to load: {summarize(error)}") from error
        origin = path.name
    else:
        try:
            module = importlib.import_module(f"rl_coach.presets.{stem}")
        except ModuleNotFoundError:
            found = sorted(p.stem for p in source.glob("*.py")) if source else []
            raise UserError(
                f"{PRESET_KEY}={name!r}: no {stem}.py in the source directory "
                f"({', '.join(found) or 'no source directory or no .py files'}) and no Coach "
                f"preset of that name"
            ) from None
        origin = f"rl_coach.presets.{stem}"
    graph_manager = getattr(module, "graph_manager", None)
    if graph_manager is None or not hasattr(graph_manager, "improve"):
        raise UserError(f"preset {origin} defines no `graph_manager` (a Coach GraphManager)")
    logger.info("Preset %s: %s", origin, type(graph_manager).__name__)
    return graph_manager


def override_types() -> dict[str, Callable[[Any], Any]]:
    from rl_coach import core_types

    types = dict(overrides.BUILTIN_TYPES)
    for name in ("EnvironmentSteps", "EnvironmentEpisodes", "TrainingSteps", "Time", "Frames"):
        if hasattr(core_types, name):
            types[name] = getattr(core_types, name)
    return types


def apply_overrides(graph_manager: Any, config: CoachConfig) -> None:
    types = override_types()
    for item in config.overrides:
        value = overrides.apply(graph_manager, item, types)
        logger.info("Override %s = %r", item.key, value)


def set_framework(graph_manager: Any) -> None:
    """Every network of the preset on the image's framework, as `coach -f` does."""
    from rl_coach.base_parameters import Frameworks

    chosen = Frameworks.tensorflow if framework() == "tensorflow" else Frameworks.mxnet
    agents = getattr(graph_manager, "agents_params", None) or [graph_manager.agent_params]
    for agent_params in agents:
        for network_parameters in agent_params.network_wrappers.values():
            network_parameters.framework = chosen


def check_level(graph_manager: Any) -> None:
    """A custom gym environment (`module:Class` level) must import from the source directory:
    say so in one line instead of Coach's traceback."""
    env_params = getattr(graph_manager, "env_params", None)
    level = getattr(env_params, "level", None)
    level = getattr(level, "selected_level", level)  # SingleLevelSelection
    if not isinstance(level, str) or ":" not in level or "/" in level:
        return
    module_name, _, attribute = level.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as error:
        raise UserError(
            f"environment level {level!r}: module {module_name} does not import "
            f"({summarize(error)}); put {module_name.replace('.', '/')}.py in the source directory"
        ) from None
    if not hasattr(module, attribute):
        raise UserError(f"environment level {level!r}: {module_name} has no {attribute!r}")


def point_dataset(graph_manager: Any, contract: TrainingContract, config: CoachConfig) -> None:
    """Batch RL: a preset's `CsvDataset` reads the CSV from the dataset channel."""
    agent_params = getattr(graph_manager, "agent_params", None)
    memory = getattr(agent_params, "memory", None)
    dataset = getattr(memory, "load_memory_from_file_path", None)
    if dataset is None or not hasattr(dataset, "filepath"):
        return
    wanted = Path(dataset.filepath)
    channel = contract.channels.get(config.dataset_channel)
    if channel is None:
        if wanted.is_file() or (contract.code_dir / wanted).is_file():
            dataset.filepath = str(wanted if wanted.is_file() else contract.code_dir / wanted)
            return
        raise UserError(
            f"the preset loads its dataset from {dataset.filepath!r}, which is not there: add an "
            f"input channel named '{config.dataset_channel}' holding the CSV file "
            f"(or set rl_dataset_channel)"
        )
    files = sorted(p for p in channel.rglob("*") if p.is_file() and not p.name.startswith("."))
    same_name = [p for p in files if p.name == wanted.name]
    csvs = [p for p in files if p.suffix.lower() == ".csv"]
    chosen = same_name[0] if same_name else (csvs[0] if len(csvs) == 1 else None)
    if chosen is None:
        raise UserError(
            f"input channel '{config.dataset_channel}' should hold {wanted.name} or exactly one "
            f".csv file; it holds {', '.join(p.name for p in files) or 'nothing'}"
        )
    dataset.filepath = str(chosen)
    logger.info("Batch RL dataset: %s", chosen)


# ---- observing Coach's loop ------------------------------------------------------------------


class Episodes:
    """Returns and lengths of the episodes that ended since the last `take()`, by phase."""

    def __init__(self) -> None:
        self.train: list[tuple[float, int]] = []
        self.test: list[tuple[float, int]] = []
        self.ope: dict[str, float] = {}

    def record(self, phase: str, total_reward: float, length: int) -> None:
        if phase == "Testing":
            self.test.append((float(total_reward), int(length)))
        elif phase == "Training":
            self.train.append((float(total_reward), int(length)))

    def take(self) -> tuple[list[tuple[float, int]], list[tuple[float, int]], dict[str, float]]:
        taken = (self.train, self.test, self.ope)
        self.train, self.test, self.ope = [], [], {}
        return taken


def top_agent(graph_manager: Any) -> Any:
    return next(iter(graph_manager.level_managers[0].agents.values()))


class CoachRun:
    def __init__(self, contract: TrainingContract, config: CoachConfig, graph_manager: Any):
        self.contract = contract
        self.config = config
        self.gm = graph_manager
        self.store = CheckpointStore(contract.checkpoint_dir, keep=config.checkpoint_keep)
        self.scratch = Path(tempfile.mkdtemp(prefix="sagemaker-rl-coach-"))
        self.coach_checkpoints = self.scratch / "checkpoint"
        self.episodes = Episodes()
        self.iteration = 0
        self.started = time.monotonic()
        self.iteration_started = self.started
        self.last_saved: Checkpoint | None = None
        self.evaluation_return_mean = math.nan
        self.reached = False
        self.curve = TrainingCurve.for_job(contract, f"Coach preset {config.preset}")

    # -- setup

    def task_parameters(self, restore: Checkpoint | None) -> Any:
        from rl_coach.base_parameters import Frameworks, TaskParameters

        experiment = self.contract.output_data_dir / "coach"
        experiment.mkdir(parents=True, exist_ok=True)
        self.coach_checkpoints.mkdir(parents=True, exist_ok=True)
        return TaskParameters(
            framework_type=Frameworks.tensorflow
            if framework() == "tensorflow"
            else Frameworks.mxnet,
            use_cpu=self.contract.num_gpus == 0,
            experiment_path=str(experiment),
            seed=self.config.seed,
            checkpoint_save_dir=str(self.coach_checkpoints),
            checkpoint_restore_path=str(restore.path) if restore else None,
            apply_stop_condition=self.config.apply_stop_condition,
            num_gpu=max(1, self.contract.num_gpus),
        )

    def create_graph(self) -> Checkpoint | None:
        self.store.remove_partials()
        restore = next(iter(self.store.valid()), None)
        try:
            self.gm.create_graph(self.task_parameters(restore))
        except UserError:
            raise
        except Exception as error:
            if restore is None:
                raise
            raise UserError(
                f"checkpoint {restore.describe()} in {self.store.root} does not restore into "
                f"this preset ({summarize(error)}): remove it or use the preset that wrote it"
            ) from error
        if restore is not None:
            self._restore_counters(restore)
        self.curve.resume(self.iteration)  # 0 on a fresh start: an older run's rows go
        self._observe()
        return restore

    def _restore_counters(self, checkpoint: Checkpoint) -> None:
        from rl_coach import core_types
        from rl_coach.core_types import RunPhase

        state = checkpoint.manifest.get("coach", {})
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        for name, value in state.get("train_counters", {}).items():
            counters[getattr(core_types, name)] = int(value)
        agent = top_agent(self.gm)
        for name, value in state.get("agent_counters", {}).items():
            if hasattr(agent, name):
                setattr(agent, name, value)
        self.iteration = int(state.get("iteration", checkpoint.iteration))
        # Coach counts improve_steps from where improve() starts: give it what is left.
        steps = self.gm.improve_steps
        done = counters[type(steps)]
        self.gm.improve_steps = type(steps)(max(0, steps.num_steps - done))
        logger.info(
            "Resumed from %s: %s, training continues at iteration %d (%d of %d %s left)",
            checkpoint.describe(),
            ", ".join(f"{k} {v}" for k, v in state.get("train_counters", {}).items()),
            self.iteration + 1,
            self.gm.improve_steps.num_steps,
            steps.num_steps,
            type(steps).__name__,
        )

    def _observe(self) -> None:
        """Wrap the graph manager's episode-end and iteration-end methods on this instance."""
        gm = self.gm
        handle_episode_ended = gm.handle_episode_ended

        def episode_ended() -> None:
            agent = top_agent(gm)
            self.episodes.record(
                str(gm.phase.value) if hasattr(gm.phase, "value") else str(gm.phase),
                agent.total_reward_in_current_episode,
                agent.current_episode_steps_counter,
            )
            handle_episode_ended()

        gm.handle_episode_ended = episode_ended
        batch_without_simulator = (
            hasattr(gm, "run_off_policy_evaluation") and getattr(gm, "env_params", None) is None
        )
        if hasattr(gm, "run_off_policy_evaluation"):
            run_ope = gm.run_off_policy_evaluation

            def off_policy_evaluation() -> None:
                self._capture_ope()
                run_ope()
                if batch_without_simulator:
                    self.end_iteration(reached=False)

            gm.run_off_policy_evaluation = off_policy_evaluation
        if not batch_without_simulator:
            evaluate = gm.evaluate

            def evaluated(steps: Any) -> bool:
                reached = evaluate(steps)
                self.end_iteration(reached)
                return reached

            gm.evaluate = evaluated

    def _capture_ope(self) -> None:
        manager = getattr(top_agent(self.gm), "ope_manager", None)
        if manager is None or getattr(manager, "_sagemaker_rl_wrapped", False):
            return
        evaluate = manager.evaluate

        def ope_evaluate(*args: Any, **kwargs: Any) -> Any:
            result = evaluate(*args, **kwargs)
            names = ("ope_ips", "ope_dm", "ope_dr", "ope_seq_dr", "ope_wis")
            self.episodes.ope = {n: float(v) for n, v in zip(names, result)}  # noqa: B905 (Python 3.9)
            return result

        manager.evaluate = ope_evaluate
        manager._sagemaker_rl_wrapped = True

    # -- per iteration

    def end_iteration(self, reached: bool) -> None:
        self.iteration += 1
        metrics = self._metrics()
        print_line(metrics_line(metrics))
        logger.info(progress_line(metrics, self.gm))
        self.curve.record(metrics)
        if reached:
            self.reached = True
            logger.info("Evaluation reached the success threshold: Coach stops here")
        frequency = self.config.checkpoint_frequency
        if signals.requested():
            saved = self.save_checkpoint()
            raise TrainingInterrupted(
                f"training interrupted by SIGTERM after iteration {self.iteration}; "
                f"{saved.path.name} saved in {self.store.root}: run the job again with the "
                f"same checkpoint location to resume"
            )
        if frequency and self.iteration % frequency == 0:
            self.save_checkpoint()

    def _metrics(self) -> IterationMetrics:
        from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, RunPhase

        now = time.monotonic()
        train, test, ope = self.episodes.take()
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        returns = [r for r, _ in train]
        extra: dict[str, float] = dict(ope)
        if test:
            self.evaluation_return_mean = sum(r for r, _ in test) / len(test)
            extra["evaluation_return_mean"] = self.evaluation_return_mean
            extra["evaluation_episodes"] = len(test)
        metrics = IterationMetrics(
            iteration=self.iteration,
            timesteps_total=int(counters[EnvironmentSteps]),
            episodes_total=int(counters[EnvironmentEpisodes]),
            episode_return_mean=sum(returns) / len(returns) if returns else math.nan,
            episode_return_min=min(returns) if returns else math.nan,
            episode_return_max=max(returns) if returns else math.nan,
            episode_len_mean=sum(n for _, n in train) / len(train) if train else math.nan,
            time_this_iter_s=now - self.iteration_started,
            time_total_s=now - self.started,
            losses=extra,
        )
        self.iteration_started = now
        return metrics

    # -- checkpoints

    def save_checkpoint(self) -> Checkpoint:
        """Coach writes its checkpoint into scratch; the newest one is copied into the store."""
        from rl_coach import core_types
        from rl_coach.checkpoint import CheckpointStateReader
        from rl_coach.core_types import RunPhase

        if self.last_saved is not None and self.last_saved.iteration == self.iteration:
            return self.last_saved
        self.gm.save_checkpoint()
        latest = CheckpointStateReader(str(self.coach_checkpoints)).get_latest()
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        agent = top_agent(self.gm)
        state = {
            "iteration": self.iteration,
            "checkpoint_name": latest.name,
            "train_counters": {n: int(counters[getattr(core_types, n)]) for n in COUNTERS},
            "agent_counters": {
                n: getattr(agent, n)
                for n in AGENT_COUNTERS
                if isinstance(getattr(agent, n, None), int)
            },
        }

        def write(directory: Path) -> None:
            for path in self.coach_checkpoints.iterdir():
                # This checkpoint's files and Coach's state file naming it; TensorFlow's own
                # `checkpoint` index holds absolute scratch paths and is left out.
                if path.name.startswith(latest.name) or path.name == ".coach_checkpoint":
                    shutil.copy2(path, directory / path.name)

        manifest = {"toolkit": "coach", "framework": framework(), "coach": state}
        saved = self.store.save(self.iteration, write, manifest)
        for path in self.coach_checkpoints.iterdir():
            if path.is_file() and not path.name.startswith(latest.name) and "Step-" in path.name:
                path.unlink()
        self.last_saved = saved
        logger.info("Checkpoint %s saved (Coach checkpoint %s)", saved.path.name, latest.name)
        return saved


def progress_line(metrics: IterationMetrics, graph_manager: Any) -> str:
    returns = (
        "no training episode finished"
        if math.isnan(metrics.episode_return_mean)
        else f"return {metrics.episode_return_mean:.1f} "
        f"(min {metrics.episode_return_min:.1f}, max {metrics.episode_return_max:.1f})"
    )
    evaluation = metrics.losses.get("evaluation_return_mean")
    evaluated = f", evaluation {evaluation:.1f}" if evaluation is not None else ""
    return (
        f"Iteration {metrics.iteration}: {metrics.timesteps_total} env steps, {returns}"
        f"{evaluated}, {metrics.time_this_iter_s:.1f} s this iteration, "
        f"{metrics.time_total_s:.0f} s elapsed"
    )


def install_compat() -> None:
    """The compatibility layer, before Coach imports its framework components."""
    if framework() == "tensorflow":
        from sagemaker_rl_container.coach import tf_compat

        tf_compat.install()
    else:
        from sagemaker_rl_container.coach import mxnet_compat

        mxnet_compat.install()


def run(contract: TrainingContract, config: CoachConfig) -> Summary:
    source = source_dir.prepare(contract)  # importable: the preset's own modules, `module:Class`
    install_compat()
    graph_manager = load_preset(config.preset, source)
    set_framework(graph_manager)
    if framework() == "mxnet":
        from sagemaker_rl_container.coach import mxnet_compat

        mxnet_compat.adapt(graph_manager)
    apply_overrides(graph_manager, config)
    point_dataset(graph_manager, contract, config)
    check_level(graph_manager)
    coach_run = CoachRun(contract, config, graph_manager)
    try:
        coach_run.create_graph()
        signals.install()
        started_at = coach_run.iteration
        graph_manager.improve()
        summary = Summary(
            iterations=coach_run.iteration,
            evaluation_return_mean=coach_run.evaluation_return_mean,
        )
        if coach_run.reached:
            summary.stop_reason = "evaluation reached the success threshold"
        elif coach_run.iteration == started_at and started_at > 0:
            summary.stop_reason = "nothing left to train: the checkpoint had finished improve_steps"
        coach_run.save_checkpoint()
        if config.export_model:
            from sagemaker_rl_container.coach import export

            summary.exported = export.export(graph_manager, contract.model_dir, config)
        return summary
    finally:
        coach_run.curve.close()
        shutil.rmtree(coach_run.scratch, ignore_errors=True)
