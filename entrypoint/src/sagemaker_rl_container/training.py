"""The training entry point: `SAGEMAKER_TRAINING_MODULE=sagemaker_rl_container.training:main`.

sagemaker-training's `train` calls `main()`, writes `output/success` when it returns, and turns
a raised `UserError` into `output/failure` (its message, verbatim) and exit code 1. `main()`
picks the image's toolkit and the kind of job; the job itself runs through lifecycle.py.
"""

from __future__ import annotations

import logging
import os
import signal

from sagemaker_rl_container import hosts, script_mode, source_dir
from sagemaker_rl_container.config import JobConfig, log_unused_hyperparameters
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import JobFailed, TrainingInterrupted, UserError

logger = logging.getLogger("sagemaker_rl_container")

# Which toolkit this image runs; each image sets it: "ray" or "coach".
TOOLKIT_ENV = "SAGEMAKER_RL_TOOLKIT"


def main() -> None:
    try:
        _main()
    except UserError:
        raise
    except Exception as error:
        # sagemaker-training would write the whole traceback as the failure reason, of which
        # SageMaker shows the first 1024 characters: the log keeps it, the reason is one line.
        logger.exception("The job failed")
        raise JobFailed.from_exception(error) from error


def _main() -> None:
    contract = TrainingContract.from_environment()
    contract.ensure_output_dirs()
    toolkit = os.environ.get(TOOLKIT_ENV, "ray")
    if toolkit == "coach":
        _run_coach(contract)
    elif toolkit == "ray":
        _run_ray(contract)
    else:
        raise NotImplementedError(f"{TOOLKIT_ENV}={toolkit!r} has no launcher")


def _run_ray(contract: TrainingContract) -> None:
    try:
        if contract.is_distributed and _run_as_cluster_worker(contract):
            return
        if contract.user_program:
            script_mode.run(contract)
        else:
            _run_zero_code(contract)
    except SystemExit as exit_:
        # Ray's own SIGTERM handler (active while `ray.init` runs) exits with the signal number.
        if exit_.code == signal.SIGTERM:
            raise TrainingInterrupted("training interrupted by SIGTERM while starting") from None
        raise


def _run_as_cluster_worker(contract: TrainingContract) -> bool:
    """On a non-head host of a multi-host job: join the head's Ray cluster, wait for its
    outcome, and return True. On the head, return False at once."""
    from sagemaker_rl_container.ray_rllib import cluster

    job = JobConfig.from_hyperparameters(contract.hyperparameters)
    nodes = hosts.layout(contract, job.head_instance_group)
    if nodes.is_head:
        return False
    # The same source directory as the head: Ray workers here import the user's modules.
    _prepare_source(contract)
    cluster.run_worker(contract, nodes, job.cluster_timeout)
    return True


def _prepare_source(contract: TrainingContract) -> None:
    """A job or host that runs no entry script still imports the user's modules
    (environments, presets): the source directory importable, its requirements.txt
    installed."""
    source = source_dir.prepare(contract)
    if source is not None:
        script_mode.install_requirements(source)


def _run_zero_code(contract: TrainingContract) -> None:
    from sagemaker_rl_container.ray_rllib import trainer

    job = JobConfig.from_hyperparameters(contract.hyperparameters)
    log_unused_hyperparameters(contract.hyperparameters, "your code")
    _prepare_source(contract)
    if job.is_sweep:
        from sagemaker_rl_container.ray_rllib import sweep

        sweep.run(contract, job, ends_process=True)
        return
    trainer.run(contract, job, ends_process=True)


def _run_coach(contract: TrainingContract) -> None:
    from sagemaker_rl_container.coach.config import PRESET_KEY, CoachConfig

    if contract.is_distributed:
        from sagemaker_rl_container.coach import rollout_host

        nodes, timeout_s = rollout_host.settings(contract)
        if not nodes.is_head:
            # Rollouts only: the head's config (its preset, overrides, whatever an entry
            # script mapped) arrives from the head; the source directory must be ready.
            _prepare_source(contract)
            rollout_host.run(contract, nodes, timeout_s)
            return

    if contract.user_program:
        # SageMaker's Coach examples: an entry script on the `sagemaker_rl` package's
        # SageMakerCoachPresetLauncher, which picks the preset and maps hyperparameters.
        script_mode.run(contract)
        return
    config = CoachConfig.from_hyperparameters(contract.hyperparameters)
    log_unused_hyperparameters(contract.hyperparameters, "your preset", also_known=(PRESET_KEY,))
    # A preset's environment may need packages: its requirements.txt, as in script mode.
    _prepare_source(contract)
    from sagemaker_rl_container.coach import job

    job.run(contract, config)
