"""A Ray Tune sweep inside one job (`rl_tune_space`): many RLlib trials on the job's hosts,
the best one exported as a single job's policy would be.

    prepare    the trial's config built and checked as a single job's (trainer.RayTrainer),
               sized so that the trials share the cluster (sizing.trial_cpus); the search
               space checked against it (search_space.py); Ray started
    run        `tune.Tuner` over the algorithm, its state and every trial's checkpoints in
               /opt/ml/checkpoints/tune/<sweep>: a restarted job (managed spot) resumes the
               sweep with `Tuner.restore`, each trial from its newest checkpoint
    progress   a line per trial result; `[rl-metrics] tune_best_objective=...` for SageMaker's
               metric definitions (a SageMaker tuner can tune the sweep itself)
    SIGTERM    each running trial checkpoints after its current iteration, then Tune stops and
               saves the sweep's state; the job fails as a single job does (resume by rerun)
    export     the best trial's newest checkpoint restored and exported (export.py), metadata
               naming the trial and its settings; every trial's history to output/data/
               (tune_trials.csv, tune_trials.png)

Stop conditions: rl_stop_iterations and rl_stop_timesteps are each trial's budget;
rl_stop_mean_return (or the env's threshold) and rl_stop_seconds end the whole sweep.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.rllib.callbacks.callbacks import RLlibCallback
from ray.tune.experiment import Trial
from ray.tune.result import SHOULD_CHECKPOINT
from ray.tune.schedulers import PopulationBasedTraining

from sagemaker_rl_container import signals
from sagemaker_rl_container.config import JobConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError, summarize_root
from sagemaker_rl_container.lifecycle import TrainingSummary, json_number
from sagemaker_rl_container.metrics import METRICS_TAG, format_value, print_line
from sagemaker_rl_container.ray_rllib import (
    algorithm_config,
    export,
    head_storage,
    sizing,
)
from sagemaker_rl_container.ray_rllib.results import to_metrics
from sagemaker_rl_container.ray_rllib.search_space import Space
from sagemaker_rl_container.ray_rllib.trainer import RayTrainer, job_ray
from sagemaker_rl_container.stopping import RecentReturns
from sagemaker_rl_container.toolkit import replace_with_copy, settings_digest

logger = logging.getLogger(__name__)

TUNE_DIR = "tune"
TRIALS_CSV = "tune_trials.csv"
TRIALS_PNG = "tune_trials.png"
# Metric names RLlib's results use for what our metric line calls them.
# Each trial's result gets the mean return of its most recent episodes (RecentReturn below):
# RLlib's own is the mean of the episodes that ended in the iteration, NaN in one where none
# did, and PBT would rank trials on NaN once episodes outgrow an iteration.
RECENT_RETURN = "recent_episode_return_mean"
METRIC_PATHS = {
    "episode_return_mean": RECENT_RETURN,
    "episode_len_mean": "env_runners/episode_len_mean",
    "timesteps_total": "num_env_steps_sampled_lifetime",
}
RETURN_PATH = METRIC_PATHS["episode_return_mean"]
STEPS_PATH = METRIC_PATHS["timesteps_total"]
# After SIGTERM, how long the running trials get to checkpoint before Tune stops anyway.
SAVE_AFTER_SIGTERM_S = 30.0


def run(contract: TrainingContract, job: JobConfig, ends_process: bool = False) -> TrainingSummary:
    """Run the zero-code sweep `job` describes; `ends_process`: the process exits once this
    returns (the image's own `train`)."""
    space = Space.parse(job)
    with job_ray(contract, job, prestart_workers=False) as (head, node):
        trainer = SweepTrainer(space, contract, job, None, None, head, node)
        trainer.ends_process = ends_process and head is None
        return Sweep(contract, job, trainer, space).run()


class SweepTrainer(RayTrainer):
    """A trial's config: a single job's, sized to the trial's share of the cluster."""

    def __init__(self, space: Space, *args: Any, **kwargs: Any) -> None:
        self.space = space
        self.cpus_per_trial = 1.0
        self.cluster_cpus = 0
        super().__init__(*args, **kwargs)

    def _evaluation_episodes(self) -> int:
        # Trials are ranked on their training returns; the best one's export is checked
        # against its policy as any export is (export.py).
        return 0

    def _build_config(self, resources: algorithm_config.Resources, check: bool) -> Any:
        cpus = sizing.trial_cpus(resources.cpus, self.space.trials)
        self.cluster_cpus = resources.cpus
        per_trial = algorithm_config.Resources(cpus=max(1, int(cpus)), gpus=0)
        config = super()._build_config(per_trial, check)
        if cpus < 2 and not int(config.num_learners or 0):
            # The learner in the trial's process, within that process's share of a CPU (RLlib
            # would reserve a whole CPU for it).
            config.resources(num_cpus_for_main_process=cpus)
            if "learners.num_cpus_per_learner" not in self.job.overrides:
                config.learners(num_cpus_per_learner=0)
        self.cpus_per_trial = cpus
        config.callbacks(callbacks_class=recent_return(self.job.stop_mean_return_episodes))
        return config


class RecentReturn(RLlibCallback):
    """In each trial: the mean return of the `episodes` most recent episodes, across
    iterations (stopping.RecentReturns, as a single job's mean-return stop reads it; fewer
    while fewer have ended), into the result as `recent_episode_return_mean`. A trial process
    that has seen no episode end yet (one just restored by PBT or a resumed sweep) reports NaN:
    the driver carries (CarriedReturns). A callbacks class, not `config.callbacks(
    on_train_result=...)`, which RLlib's old API stack (the TensorFlow images) refuses."""

    episodes = 10

    def on_train_result(self, *, algorithm: Any, result: dict, **kwargs: Any) -> None:
        recent = algorithm.__dict__.setdefault(
            "_sagemaker_rl_recent_returns", RecentReturns(self.episodes)
        )
        recent.record(to_metrics(result))
        result[RECENT_RETURN] = recent.mean_so_far


def recent_return(episodes: int) -> type[RecentReturn]:
    """RecentReturn over `episodes` (RLlib makes the callbacks without arguments). Its name is
    not the module's, so Ray pickles the class itself into each trial."""
    return type(f"RecentReturnOf{episodes}", (RecentReturn,), {"episodes": episodes})


class CarriedReturns:
    """The driver's last known recent return of each trial, put into a result that has none
    (its process restarted, or no episode ended yet there), before the stop conditions and
    PBT read it; a trial PBT clones takes its source's. Without it PBT skipped every trial
    whose latest result had NaN, which with long episodes was most of them."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}

    def fill(self, trial_id: str, result: dict[str, Any]) -> None:
        value = _get(result, RECENT_RETURN)
        if math.isnan(value):
            result[RECENT_RETURN] = self.last.get(trial_id, math.nan)
        else:
            self.last[trial_id] = value

    def cloned(self, trial_id: str, source_id: str) -> None:
        self.last[trial_id] = self.last.get(source_id, math.nan)


class CarryingPBT(PopulationBasedTraining):
    """PBT reading each trial's carried recent return (CarriedReturns). `all_at_once`: the
    whole population fits the cluster at once (sizing.trial_cpus), so a trial at its
    perturbation point goes on: PBT pauses it whenever another trial is paused or pending,
    which is there to share too few CPUs, and which here only restarted trials, each
    restart losing the iterations since its last checkpoint."""

    def __init__(self, carried: CarriedReturns, all_at_once: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.carried = carried
        self.all_at_once = all_at_once

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        self.carried.fill(trial.trial_id, result)
        decision = super().on_trial_result(tune_controller, trial, result)
        if decision == self.PAUSE and self.all_at_once and trial.status != Trial.PAUSED:
            return self.CONTINUE
        return decision

    def _exploit(self, tune_controller: Any, trial: Any, trial_to_clone: Any) -> None:
        self.carried.cloned(trial.trial_id, trial_to_clone.trial_id)
        super()._exploit(tune_controller, trial, trial_to_clone)


class HostNames(dict):
    """Node IP -> the SageMaker host it runs on; an IP it does not know stands for itself."""

    def __missing__(self, ip: Any) -> Any:
        return ip


class Sweep:
    def __init__(
        self, contract: TrainingContract, job: JobConfig, trainer: SweepTrainer, space: Space
    ) -> None:
        self.contract = contract
        self.job = job
        self.trainer = trainer
        self.space = space
        self.metric = METRIC_PATHS.get(job.tune_metric, job.tune_metric)
        self.mode = job.tune_mode

    def run(self) -> TrainingSummary:
        error: BaseException | None = None
        # The space checked against the trial's config before Ray starts; placed again only
        # where starting Ray rebuilt the config (a cluster's, sized to its hosts).
        checked_config = self.trainer.config
        self.placed = self.space.param_space(checked_config)
        try:
            self.trainer.start_ray()
            if self.trainer.config is not checked_config:
                self.placed = self.space.param_space(self.trainer.config)
            # Ray's driver replaced the SIGTERM handler with its own, which aborts the
            # process; the job's goes back in, as the lifecycle does before training.
            signals.install()
            summary = self._sweep()
        except BaseException as raised:
            error = raised
            raise
        finally:
            self.trainer.close(error)
        logger.info(
            "Done: %d trials; the best, %s, reached %s %s after %d iterations; model/: %s",
            self.space.trials,
            self.best_name,
            self.job.tune_metric,
            format_value(self.best_value),
            summary.iterations,
            ", ".join(summary.exported),
        )
        return summary

    # -- the sweep

    def _sweep(self) -> TrainingSummary:
        config = self.trainer.config
        param_space, keys = self.placed
        self.keys = keys
        directory = self.contract.checkpoint_dir / TUNE_DIR
        # A restarted job resumes the sweep of the same settings, space and search.
        name = (
            "sweep-"
            + settings_digest(
                {
                    "trial": self.trainer.settings_digest,
                    "space": self.job.tune_space,
                    "search": self.space.search,
                    "samples": self.space.samples,
                    "metric": self.metric,
                    "mode": self.mode,
                }
            )[:12]
        )
        self.hosts = self._host_names()
        progress = Progress(self.metric, self.mode, keys, self.hosts)
        self.carried = CarriedReturns()
        stopper = SweepStopper(
            self.carried, self._per_trial_stop(), self._sweep_target(), self.job.stop_seconds
        )
        storage = None
        if self.contract.is_distributed:  # every host's trials store on the head
            self.store = head_storage.start_store()  # kept: the actor lives while its handle does
            storage = head_storage.filesystem()
        run_config = tune.RunConfig(
            name=name,
            storage_path=str(directory),
            storage_filesystem=storage,
            stop=stopper,
            callbacks=[progress],
            verbose=0,
            checkpoint_config=tune.CheckpointConfig(
                checkpoint_frequency=self._checkpoint_frequency(),
                checkpoint_at_end=True,
                # PBT may restore any trial's newest checkpoint into another, and Tune's
                # pruning deleted one it then asked for: a PBT sweep keeps them all.
                num_to_keep=None if self.space.search == "pbt" else self.job.checkpoint_keep,
            ),
            failure_config=tune.FailureConfig(max_failures=0),
        )
        algo_class = config.algo_class
        path = directory / name
        if tune.Tuner.can_restore(str(path), storage_filesystem=storage):
            logger.info(
                "Resuming the sweep in %s (Tune's own state and each trial's newest checkpoint)",
                path,
            )
            tuner = tune.Tuner.restore(
                str(path),
                trainable=algo_class,
                param_space=param_space,
                resume_unfinished=True,
                resume_errored=True,
                storage_filesystem=storage,
            )
            # Tuner.restore keeps the first run's stop and callbacks; this run's hold its
            # stop conditions and its log, and Ray offers no other way to give them.
            restored = tuner._local_tuner.get_run_config()
            restored.stop, restored.callbacks = stopper, [progress]
            # The scheduler comes back unpickled with a table of its own: PBT's clones must
            # reach the stop conditions' table, as in the first run.
            scheduler = tuner._local_tuner._tune_config.scheduler
            if isinstance(scheduler, CarryingPBT):
                scheduler.carried = self.carried
        else:
            tuner = tune.Tuner(
                algo_class,
                param_space=param_space,
                tune_config=tune.TuneConfig(
                    metric=self.metric,
                    mode=self.mode,
                    num_samples=self.space.samples,
                    scheduler=self._scheduler(param_space, keys),
                    trial_name_creator=lambda trial: f"trial_{trial.trial_id}",
                    trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
                    reuse_actors=False,
                ),
                run_config=run_config,
            )
        self._log_plan(path)
        with signals.when_requested(progress.sigterm):
            results = tuner.fit()
        self._write_trials(results)
        if signals.requested():
            raise TrainingInterrupted(
                f"training interrupted by SIGTERM; the sweep's state and its trials' "
                f"checkpoints are in {path}: run the job again with the same checkpoint "
                f"location to resume the sweep"
            )
        finished = [result for result in results if result.error is None]
        for result in results:
            if result.error is not None:  # e.g. a learning rate that made the weights NaN
                logger.warning(
                    "%s failed: %s", Path(result.path).name, summarize_root(result.error)
                )
        if not finished:
            raise UserError(
                f"every trial of the sweep failed; {Path(results[0].path).name}: "
                f"{summarize_root(results[0].error)}"
            )
        return self._export(finished, len(results))

    def _host_names(self) -> HostNames:
        """Each node's IP -> the SageMaker host name it runs on, for the log and the table."""
        if self.trainer.head is not None:
            return HostNames(self.trainer.head.host_names())
        return HostNames({ray.util.get_node_ip_address(): self.contract.current_host})

    def _per_trial_stop(self) -> dict[str, float]:
        stop = self.trainer.stop
        budget: dict[str, float] = {}
        if stop.iterations is not None:
            budget["training_iteration"] = stop.iterations
        if stop.timesteps is not None:
            budget[STEPS_PATH] = stop.timesteps
        return budget

    def _sweep_target(self) -> tuple[str, float] | None:
        target = self.trainer.stop.mean_return
        return (RETURN_PATH, target) if target is not None else None

    def _checkpoint_frequency(self) -> int:
        frequency = self.job.checkpoint_frequency
        if self.space.search == "pbt":
            # PBT copies weights at each perturbation: the trials save at least as often.
            interval = self.job.tune_perturbation_interval
            return min(frequency, interval) if frequency else interval
        return frequency

    def _scheduler(self, param_space: dict[str, Any], keys: dict[str, str]) -> Any:
        if self.space.search != "pbt":
            return None
        cpus = self.trainer.cpus_per_trial * self.space.trials
        return CarryingPBT(
            self.carried,
            cpus <= self.trainer.cluster_cpus,
            time_attr="training_iteration",
            perturbation_interval=self.job.tune_perturbation_interval,
            hyperparam_mutations=self.space.mutations(param_space, keys),
        )

    def _log_plan(self, path: Path) -> None:
        config = self.trainer.config
        logger.info(
            "Sweeping %s: %s search, %d trials of %s CPUs each (%d env runners), over %s; "
            "ranked by %s (%s); %s; trials checkpoint in %s",
            self.trainer.title,
            self.space.search,
            self.space.trials,
            format_value(self.trainer.cpus_per_trial),
            int(config.num_env_runners),
            self.space.describe(),
            self.job.tune_metric,
            self.mode,
            self._describe_stop(),
            path,
        )

    def _describe_stop(self) -> str:
        """Each trial's budget, and what ends the whole sweep."""
        stop = self.trainer.stop
        budget = [
            f"iteration {stop.iterations}" if stop.iterations is not None else "",
            f"{stop.timesteps} env steps" if stop.timesteps is not None else "",
        ]
        ends = [
            f"a trial's mean return reaches {format_value(stop.mean_return)} (over its last "
            f"{self.job.stop_mean_return_episodes} episodes)"
            if stop.mean_return is not None
            else "",
            f"{format_value(stop.seconds)} s have passed" if stop.seconds is not None else "",
        ]
        budget_text = " or ".join(b for b in budget if b) or "no budget"
        ends_text = " or ".join(e for e in ends if e)
        return f"each trial stops at {budget_text}" + (
            f"; the sweep ends once {ends_text}" if ends_text else ""
        )

    # -- results

    def _write_trials(self, results: Any) -> None:
        """Every result of every trial (its settings as they were then: PBT changes them)."""
        rows: list[dict[str, Any]] = []
        for result in results:
            frame = result.metrics_dataframe
            if frame is None:
                continue
            trial = Path(result.path).name
            for record in frame.to_dict("records"):
                row = {
                    "trial": trial,
                    "host": self.hosts[record.get("node_ip")],
                    "iteration": record.get("training_iteration"),
                    "timesteps_total": record.get(STEPS_PATH),
                    "episode_return_mean": record.get("env_runners/episode_return_mean"),
                    RECENT_RETURN: record.get(RECENT_RETURN),
                }
                if self.metric not in (RETURN_PATH, STEPS_PATH):
                    row[self.job.tune_metric] = record.get(self.metric)
                for setting, key in self.keys.items():
                    row[setting] = record.get(f"config/{key}")
                rows.append(row)
        data = self.contract.output_data_dir
        data.mkdir(parents=True, exist_ok=True)
        if not rows:
            return
        with (data / TRIALS_CSV).open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        _plot(rows, data / TRIALS_PNG, f"{self.trainer.title}: {len(results)} trials")

    def _export(self, finished: list[Any], trials: int) -> TrainingSummary:
        """The best of the trials that finished (by their last `metric`), exported."""
        ranked = [r for r in finished if not math.isnan(_get(r.metrics, self.metric))]
        if not ranked:
            raise UserError(
                f"no trial of the sweep reported {self.job.tune_metric} (rl_tune_metric): "
                f"no episode finished, or the name is not in RLlib's results"
            )
        pick = max if self.mode == "max" else min
        best = pick(ranked, key=lambda result: _get(result.metrics, self.metric))
        if best.checkpoint is None:
            raise UserError("the sweep ended without a checkpoint of its best trial")
        self.best_name = Path(best.path).name
        self.best_value = _get(best.metrics, self.metric)
        metrics = to_metrics(best.metrics)
        print_line(
            f"{METRICS_TAG} tune_best_objective={format_value(self.best_value)} "
            f"tune_trials={trials}"
        )
        from ray.rllib.algorithms.algorithm import Algorithm

        settings = {setting: best.config.get(key) for setting, key in self.keys.items()}
        logger.info(
            "Best trial: %s, %s %s at iteration %d, with %s; exporting its newest checkpoint",
            self.best_name,
            self.job.tune_metric,
            format_value(self.best_value),
            metrics.iteration,
            ", ".join(f"{k}={format_value(v)}" for k, v in settings.items()),
        )
        model_dir = self.contract.model_dir
        model_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = Path(best.checkpoint.path)
        replace_with_copy(checkpoint, model_dir / export.CHECKPOINT_DIR)
        trainer = self.trainer
        trainer.algo = Algorithm.from_checkpoint(str(checkpoint))
        training = {
            "iterations": metrics.iteration,
            "timesteps": metrics.timesteps_total,
            "episode_return_mean": json_number(metrics.episode_return_mean),
            "recent_episode_return_mean": json_number(_get(best.metrics, RECENT_RETURN)),
            "stop_reason": "the sweep ended",
            "hosts": len(self.contract.hosts),
        }
        tune = {
            "trial": self.best_name,
            "settings": settings,
            "metric": self.job.tune_metric,
            "mode": self.mode,
            "objective": json_number(self.best_value),
            "search": self.space.search,
            "trials": trials,
        }
        exported = trainer.export(model_dir, training, also={"tune": tune})
        return TrainingSummary(
            iterations=metrics.iteration,
            timesteps=metrics.timesteps_total,
            episode_return_mean=metrics.episode_return_mean,
            evaluation_return_mean=math.nan,
            stop_reason="the sweep ended",
            resumed_from=None,
            exported=exported,
        )


class Progress(tune.Callback):
    """A line per trial result, the best trial's objective for SageMaker's metric regexes,
    and a SIGTERM's checkpoints. Pickled with Tune's state: no locks held between uses."""

    def __init__(self, metric: str, mode: str, keys: dict[str, str], hosts: dict[str, str]) -> None:
        self.metric, self.mode, self.keys = metric, mode, keys
        self.hosts = HostNames(hosts)
        self.trials: list = []  # Tune's, as of its latest step
        self.latest: dict[str, float] = {}
        self.settings: dict[str, dict[str, Any]] = {}
        self.saving: set[str] | None = None  # after SIGTERM: the trials yet to checkpoint
        self.timer: threading.Timer | None = None  # then stops the sweep if they do not

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        name = f"trial_{trial.trial_id}"
        value = _get(result, self.metric)
        if not math.isnan(value):  # an iteration that ended no episode keeps the last return
            self.latest[name] = value
        settings = {setting: trial.config.get(key) for setting, key in self.keys.items()}
        before = self.settings.get(name)
        if before is not None and before != settings:
            changed = ", ".join(
                f"{k} {format_value(before[k])} -> {format_value(v)}"
                for k, v in settings.items()
                if before.get(k) != v
            )
            logger.info(
                "%s continues from another trial's weights with %s (PBT exploit and explore)",
                name,
                changed,
            )
        self.settings[name] = settings
        best_name, best = self._best()
        print_line(
            f"{name} iteration {result.get('training_iteration')} on "
            f"{self.hosts[result.get('node_ip')]}: "
            f"{int(_get(result, STEPS_PATH) or 0)} env steps, return "
            f"{format_value(_get(result, RETURN_PATH))} with "
            f"{', '.join(f'{k}={format_value(v)}' for k, v in settings.items())}; best "
            f"{format_value(best)} ({best_name})"
        )
        print_line(
            f"{METRICS_TAG} tune_best_objective={format_value(best)} tune_trials={len(trials)}"
        )
        if self.saving is not None:
            result[SHOULD_CHECKPOINT] = True

    def on_checkpoint(
        self, iteration: int, trials: list, trial: Any, checkpoint: Any, **info: Any
    ) -> None:
        self._saved(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._saved(trial)  # it will not checkpoint now

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._saved(trial)

    def _saved(self, trial: Any) -> None:
        if self.saving is None or trial.trial_id not in self.saving:
            return
        self.saving.discard(trial.trial_id)
        if not self.saving:
            logger.info("Every running trial checkpointed: stopping the sweep")
            if self.timer is not None:
                self.timer.cancel()
            _interrupt_tune()

    def sigterm(self) -> None:
        """SIGTERM: each running trial checkpoints at its next result, then Tune stops."""
        running = {t.trial_id for t in self.trials if t.status == Trial.RUNNING}
        self.saving = running
        logger.warning(
            "SIGTERM received: %d running trials checkpoint after their current "
            "iteration, then the sweep stops",
            len(running),
        )
        if not running:
            _interrupt_tune()
            return
        self.timer = threading.Timer(SAVE_AFTER_SIGTERM_S, _interrupt_tune)
        self.timer.daemon = True
        self.timer.start()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        self.trials = trials

    def _best(self) -> tuple[str, float]:
        known = {k: v for k, v in self.latest.items() if not math.isnan(v)}
        if not known:
            return "none yet", math.nan
        pick = max if self.mode == "max" else min
        name = pick(known, key=known.__getitem__)
        return name, known[name]

    def __getstate__(self) -> dict[str, Any]:
        return {"metric": self.metric, "mode": self.mode, "keys": self.keys, "hosts": self.hosts}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(**state)


def _interrupt_tune() -> None:
    """Tune's own interruption (its SIGUSR1 handler): it stops the trials and saves the
    sweep's state, which `Tuner.restore` resumes."""
    os.kill(os.getpid(), signal.SIGUSR1)


class SweepStopper(tune.Stopper):
    """Each trial's budget (`budget`: result key -> limit), and the sweep's end: a trial that
    reaches `target` (result key, value), or `seconds` since the sweep started."""

    def __init__(
        self,
        carried: CarriedReturns,
        budget: dict[str, float],
        target: tuple[str, float] | None,
        seconds: float | None,
    ) -> None:
        self.carried, self.budget, self.target, self.seconds = carried, budget, target, seconds
        self.started: float | None = None
        self.reached: str | None = None

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if self.started is None:
            self.started = time.monotonic()
        # First of the driver's readers of a result (then PBT, then the callbacks).
        self.carried.fill(trial_id, result)
        if self.target is not None:
            key, value = self.target
            if _get(result, key) >= value:
                if self.reached is None:
                    logger.info(
                        "trial_%s reached %s %s: the sweep ends", trial_id, key, format_value(value)
                    )
                self.reached = trial_id
                return True
        return any(_get(result, key) >= limit for key, limit in self.budget.items())

    def stop_all(self) -> bool:
        timed_out = (
            self.seconds is not None
            and self.started is not None
            and time.monotonic() - self.started >= self.seconds
        )
        return self.reached is not None or timed_out


def _get(result: dict[str, Any], path: str) -> float:
    """A number from a result, by its flat key or its path through nested dicts; NaN if none."""
    if path in result:
        value: Any = result[path]
    else:
        value = result
        for part in path.split("/"):
            value = value.get(part) if isinstance(value, dict) else None
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _plot(rows: list[dict[str, Any]], png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(8, 4.5), dpi=100)
    for trial in dict.fromkeys(row["trial"] for row in rows):
        mine = [r for r in rows if r["trial"] == trial and not _isnan(r[RECENT_RETURN])]
        axes.plot(
            [r["timesteps_total"] for r in mine],
            [r[RECENT_RETURN] for r in mine],
            label=trial,
            linewidth=1,
        )
    axes.set_xlabel("env steps")
    axes.set_ylabel("mean return of the recent episodes")
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize="small")
    figure.tight_layout()
    figure.savefig(png)
    pyplot.close(figure)


def _isnan(value: Any) -> bool:
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return True
