"""Coach's part of a job (see lifecycle.py): run the preset's own `improve()` loop, report each
of its iterations, save and restore Coach checkpoints, export the trained network.

An iteration is one of Coach's evaluation periods: `steps_between_evaluation_periods` of acting
and training, then `evaluate(evaluation_steps)` (for batch RL without a simulator: one epoch and
its off-policy evaluation). The trainer wraps those graph-manager methods on the instance to
observe them; Coach's classes stay untouched.
"""

from __future__ import annotations

import logging
import math
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container.checkpoints import Checkpoint
from sagemaker_rl_container.coach import display
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.coach.preset import framework, top_agent
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError, summarize
from sagemaker_rl_container.metrics import IterationMetrics
from sagemaker_rl_container.toolkit import IterationDone, Trainer, settings_digest

logger = logging.getLogger(__name__)

COUNTERS = ("EnvironmentEpisodes", "EnvironmentSteps", "TrainingSteps")
AGENT_COUNTERS = (
    "total_steps_counter",
    "current_episode",
    "training_iteration",
    "training_epoch",
)
# The graph manager's schedule (Coach's ScheduleParameters).
SCHEDULE = ("improve_steps", "steps_between_evaluation_periods", "evaluation_steps", "heatup_steps")
# What a Coach checkpoint's manifest keeps of the run, besides Coach's own files.
STATE_KEY = "coach"


def task_parameters(
    contract: TrainingContract,
    config: CoachConfig,
    experiment: Path,
    checkpoint_dir: Path,
    restore: Optional[Path],
) -> Any:
    """Coach's TaskParameters for this job: the image's framework, its devices, the seed."""
    from rl_coach.base_parameters import Frameworks, TaskParameters

    return TaskParameters(
        framework_type=Frameworks.tensorflow if framework() == "tensorflow" else Frameworks.mxnet,
        use_cpu=contract.num_gpus == 0,
        experiment_path=str(experiment),
        seed=config.seed,
        checkpoint_save_dir=str(checkpoint_dir),
        checkpoint_restore_path=str(restore) if restore else None,
        apply_stop_condition=config.apply_stop_condition,
        num_gpu=max(1, contract.num_gpus),
    )


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


class CoachTrainer(Trainer):
    #: Whether this graph manager plays its own training episodes (a distributed trainer's
    #: come from the rollout workers, which report them).
    plays_training_episodes = True

    def __init__(self, contract: TrainingContract, config: CoachConfig, graph_manager: Any):
        self.contract = contract
        self.config = config
        self.gm = graph_manager
        self.title = f"Coach preset {config.preset}"
        self.identity = {"toolkit": "coach", "framework": framework()}
        self.settings_digest = settings_digest(
            {
                "preset": config.preset,
                # The schedule (how long to train, how often to evaluate) is when training
                # stops, not what it trains: a restart may extend it.
                "overrides": {
                    o.key: o.value for o in config.overrides if o.path[0] not in SCHEDULE
                },
                "seed": config.seed,
            }
        )
        self.display = display.VirtualDisplay() if display.needs_display(graph_manager) else None
        self.scratch = Path(tempfile.mkdtemp(prefix="sagemaker-rl-coach-"))
        self.coach_checkpoints = self.scratch / "checkpoint"
        self.episodes = Episodes()
        self.iteration = 0
        self.started = time.monotonic()
        self.iteration_started = self.started
        self.reached = False
        self.iteration_done: IterationDone | None = None
        self.stop_reason: str | None = None

    # -- building the graph, with or without a checkpoint

    def restore(self, checkpoint: Checkpoint) -> int:
        try:
            self._create_graph(checkpoint)
        except UserError:
            raise
        except Exception as error:
            # Coach builds its graph and restores in one step: no second try in this process.
            raise UserError(
                f"checkpoint {checkpoint.describe()} in {checkpoint.path.parent} does not "
                f"restore into this preset ({summarize(error)}): remove it or use the preset "
                f"that wrote it"
            ) from error
        self._restore_counters(checkpoint)
        return self.iteration

    def start_fresh(self) -> None:
        self._create_graph(None)

    def _create_graph(self, restore: Checkpoint | None) -> None:
        from rl_coach import logger as coach_logger

        experiment = self.contract.output_data_dir / "coach"
        experiment.mkdir(parents=True, exist_ok=True)
        # Where Coach's `coach` command would put it: presets that dump gifs or videos
        # (vis_params.dump_gifs) write there, and fail on None without it.
        coach_logger.experiment_path = str(experiment)
        self.coach_checkpoints.mkdir(parents=True, exist_ok=True)
        try:
            self.gm.create_graph(
                task_parameters(
                    self.contract,
                    self.config,
                    experiment,
                    self.coach_checkpoints,
                    restore.path if restore else None,
                )
            )
        except KeyError as error:
            if framework() == "mxnet":
                from sagemaker_rl_container.coach import mxnet_compat

                mxnet_compat.refuse_unsupported_part(self.config.preset, error)
            raise
        self._observe()

    def _restore_counters(self, checkpoint: Checkpoint) -> None:
        from rl_coach import core_types
        from rl_coach.core_types import RunPhase

        state = checkpoint.manifest.get(STATE_KEY, {})
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        for name, value in state.get("train_counters", {}).items():
            counters[getattr(core_types, name)] = int(value)
        agent = top_agent(self.gm)
        for name, value in state.get("agent_counters", {}).items():
            if hasattr(agent, name):
                setattr(agent, name, value)
        # Coach checkpoints the networks, not the memory: the agent plays a whole playing
        # period before it trains again (else Clipped PPO trains at the first episode's end on
        # the few steps it holds, and fails on an empty minibatch).
        from rl_coach.core_types import EnvironmentEpisodes

        playing = agent.ap.algorithm.num_consecutive_playing_steps
        agent.last_training_phase_step = (
            agent.current_episode
            if isinstance(playing, EnvironmentEpisodes)
            else agent.total_steps_counter
        )
        self.iteration = int(state.get("iteration", checkpoint.iteration))
        # Coach counts improve_steps from where improve() starts: give it what is left.
        steps = self.gm.improve_steps
        done = counters[type(steps)]
        self.gm.improve_steps = type(steps)(max(0, steps.num_steps - done))
        logger.info(
            "Coach counters restored: %s (%d of %d %s left)",
            ", ".join(f"{k} {v}" for k, v in state.get("train_counters", {}).items()),
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
            phase = str(gm.phase.value) if hasattr(gm.phase, "value") else str(gm.phase)
            if phase != "Training" or self.plays_training_episodes:
                self.episodes.record(
                    phase,
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
                    self._end_iteration(reached=False)

            gm.run_off_policy_evaluation = off_policy_evaluation
        if not batch_without_simulator:
            evaluate = gm.evaluate

            def evaluated(steps: Any) -> bool:
                return self._end_iteration(evaluate(steps))

            gm.evaluate = evaluated

    def _capture_ope(self) -> None:
        manager = getattr(top_agent(self.gm), "ope_manager", None)
        if manager is None or getattr(manager, "_sagemaker_rl_wrapped", False):
            return
        evaluate = manager.evaluate

        def ope_evaluate(*args: Any, **kwargs: Any) -> Any:
            result = evaluate(*args, **kwargs)
            names = ("ope_ips", "ope_dm", "ope_dr", "ope_seq_dr", "ope_wis")
            self.episodes.ope = {n: float(v) for n, v in zip(names, result)}
            return result

        manager.evaluate = ope_evaluate
        manager._sagemaker_rl_wrapped = True

    # -- training

    def progress(self) -> tuple[int, int]:
        from rl_coach.core_types import EnvironmentSteps, RunPhase

        return self.iteration, int(self.gm.total_steps_counters[RunPhase.TRAIN][EnvironmentSteps])

    def train(self, iteration_done: IterationDone) -> str:
        self.iteration_done = iteration_done
        started_at = self.iteration
        self.gm.improve()
        return self._why_stopped(started_at)

    def _why_stopped(self, started_at: int) -> str:
        """Why Coach's loop (or the distributed trainer's) ended, having started at iteration
        `started_at`."""
        if self.stop_reason:
            return self.stop_reason
        if self.reached:
            return "evaluation reached the success threshold"
        if self.iteration == started_at and started_at > 0:
            return "nothing left to train: the checkpoint had finished improve_steps"
        return "improve_steps reached"

    def _end_iteration(self, reached: bool) -> bool:
        """After each evaluation period; True stops Coach's loop."""
        if self.iteration_done is None:
            raise RuntimeError("CoachTrainer.train sets iteration_done before Coach's loop runs")
        self.iteration += 1
        self.stop_reason = self.iteration_done(self._metrics())
        if reached:
            self.reached = True
            logger.info("Evaluation reached the success threshold: Coach stops here")
        return reached or self.stop_reason is not None

    def _metrics(self) -> IterationMetrics:
        from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, RunPhase

        now = time.monotonic()
        train, test, ope = self.episodes.take()
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        returns = [r for r, _ in train]
        extra: dict[str, float] = dict(ope)
        if test:
            extra["evaluation_return_mean"] = sum(r for r, _ in test) / len(test)
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

    # -- checkpoints and export

    def save(self, directory: Path) -> dict[str, Any]:
        """Coach writes its checkpoint into scratch; the newest one is copied into `directory`."""
        from rl_coach import core_types
        from rl_coach.core_types import RunPhase

        name, files = self.save_coach_checkpoint()
        counters = self.gm.total_steps_counters[RunPhase.TRAIN]
        agent = top_agent(self.gm)
        state = {
            "iteration": self.iteration,
            "checkpoint_name": name,
            "train_counters": {n: int(counters[getattr(core_types, n)]) for n in COUNTERS},
            "agent_counters": {
                n: getattr(agent, n)
                for n in AGENT_COUNTERS
                if isinstance(getattr(agent, n, None), int)
            },
        }
        for path in files:
            shutil.copy2(path, directory / path.name)
        logger.info("Coach checkpoint %s", name)
        return {STATE_KEY: state}

    def save_coach_checkpoint(self) -> tuple[str, list[Path]]:
        """Coach saves a checkpoint into scratch: its name, and its files with Coach's state
        file naming it (TensorFlow's own `checkpoint` index holds absolute scratch paths and
        is left out). Older checkpoints there are removed: each was copied (or published)
        when it was the newest."""
        from rl_coach.checkpoint import CheckpointStateReader

        self.gm.save_checkpoint()
        latest = CheckpointStateReader(str(self.coach_checkpoints)).get_latest()
        files = []
        for path in self.coach_checkpoints.iterdir():
            if path.name.startswith(latest.name) or path.name == ".coach_checkpoint":
                files.append(path)
            elif path.is_file() and "Step-" in path.name:
                path.unlink()
        return latest.name, files

    def export(self, model_dir: Path, training: dict[str, Any]) -> list[str]:
        if not self.config.export_model:
            return []
        from sagemaker_rl_container.coach import export

        return export.export(self.gm, model_dir, self.config, training)

    def start(self) -> None:
        if self.display is not None:
            self.display.start()

    def close(self, error: Optional[BaseException]) -> None:
        display.close_environments(self.gm)
        shutil.rmtree(self.scratch, ignore_errors=True)
