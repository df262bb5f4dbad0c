"""The program side of script mode: what a launcher running inside the user's training program
(`RayLauncher`, and the `sagemaker_rl` compatibility launchers) needs before and around a job.

The program is started by this image's `train` (script_mode.py) or by SDK v3's own driver. There
a bad setting or an interrupted run ends the program with the job's usual one line in
output/failure and exit status 1, or 143 after SIGTERM; used anywhere else (a notebook, a test),
the launcher raises the error instead.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from sagemaker_rl_container import signals
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import JobFailed, TrainingInterrupted, UserError
from sagemaker_rl_container.metrics import write_whole_lines
from sagemaker_rl_container.script_mode import SCRIPT_MODE_ENV

logger = logging.getLogger(__name__)

# Set by the SageMaker Python SDK v3's driver (sm_train.sh) for the entry script it runs.
SDK_V3_ENTRY_SCRIPT_ENV = "SM_ENTRY_SCRIPT"


def start() -> None:
    """Logging like the image's own `train`, and a SIGTERM noted (not fatal) from now on."""
    configure_logging()
    signals.install()
    make_program_importable()


def configure_logging() -> None:
    write_whole_lines()
    if not logging.getLogger().handlers:
        from sagemaker_training import logging_config

        logging_config.configure_logger(logging.INFO)


def in_training_program() -> bool:
    return os.environ.get(SCRIPT_MODE_ENV) == "1" or SDK_V3_ENTRY_SCRIPT_ENV in os.environ


def make_program_importable() -> None:
    """Ray's workers import the program's modules (its environments) by name: give them the
    program's directory, wherever the program was started from."""
    program = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else None
    if program is None or not program.is_file():
        return
    directory = str(program.parent)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if directory not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([directory, *paths])


@contextlib.contextmanager
def reporting_failures(contract: TrainingContract | None) -> Iterator[None]:
    """In a SageMaker training program, end a job that failed on its input as every job does
    (a driver that already found output/failure keeps it)."""
    try:
        yield
    except Exception as error:
        if not in_training_program():
            raise
        if not isinstance(error, UserError):
            # An error inside the toolkit, a preset or an environment: the traceback stays in
            # the log, the failure is one line naming it and the user's file where it arose.
            logger.exception("The job failed")
            error = JobFailed.from_exception(error)
        if contract is not None:
            (contract.output_dir / "failure").write_text(str(error))
        logger.error("%s", error)
        interrupted = isinstance(error, TrainingInterrupted) or signals.requested()
        sys.exit(128 + 15 if interrupted else 1)
