"""Script mode, as SageMaker's framework containers define it: the user's `sagemaker_program`
runs as a child process, from the source directory, with the `SM_*` environment and the
hyperparameters as `--name value` arguments, after the source directory's `requirements.txt`
is installed.

The entry point's kind follows sagemaker-training's rules: a `.sh` file or any other non-`.py`
name runs through `/bin/sh`, a source directory with `setup.py` is installed and run as
`python -m <module>`, a `.py` file runs as a Python script. SIGTERM (spot interruptions,
`docker stop`) is passed on to the program; a program built on `RayLauncher` then checkpoints
and exits 143, like any job. The program's output goes straight to the job's log; its last
error line names the failure when it exits non-zero without writing `output/failure` itself.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sagemaker_rl_container import signals, source_dir
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError

# Tells the package's launchers inside the program that they run in script mode.
SCRIPT_MODE_ENV = "SAGEMAKER_RL_SCRIPT_MODE"

logger = logging.getLogger(__name__)

REQUIREMENTS = "requirements.txt"
# How much of the program's stderr is kept to name its error (it is all in the log anyway).
ERROR_TAIL_LINES = 100
# A Python traceback's last line: `ValueError: ...`, `mymodule.MyError: ...`.
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")
# output/failure stays well inside the 1024 characters SageMaker shows.
MAX_ERROR_LINE = 500


def run(contract: TrainingContract) -> None:
    program_name = contract.user_program or ""
    source = source_dir.prepare(contract)
    if source is None:
        raise UserError(
            f"sagemaker_program {program_name!r} was given but there is no source directory: "
            f"set sagemaker_submit_directory (source_dir in the SageMaker SDK)"
        )
    program = source / program_name
    if not program.is_file():
        found = ", ".join(sorted(p.name for p in source.iterdir() if p.is_file())) or "no files"
        raise UserError(
            f"sagemaker_program {program_name!r} not found in the source directory {source} "
            f"(it has {found})"
        )
    install_requirements(source)
    command = entry_point_command(source, program_name, _command_line(contract.hyperparameters))
    environment = {**os.environ, **contract.script_environment, SCRIPT_MODE_ENV: "1"}
    # `python` in a shell entry point is this image's Python, as in SageMaker's containers.
    bin_dir = os.path.dirname(sys.executable)
    environment["PATH"] = os.pathsep.join([bin_dir, environment.get("PATH", "")])
    logger.info("Running %s", " ".join(shlex.quote(part) for part in command))
    returncode, error_line = _run_child(command, source, environment)
    failure = contract.output_dir / "failure"
    if returncode != 0:
        # A program on RayLauncher (or any that follows the contract) wrote its own line.
        written = failure.read_text().strip() if failure.exists() else ""
        if signals.requested() or returncode in (128 + signal.SIGTERM, -signal.SIGTERM):
            raise TrainingInterrupted(written or f"{program_name} was stopped by SIGTERM")
        if written:
            raise UserError(written)
        raise UserError(_exit_description(program_name, returncode, error_line))
    # A launcher's run always leaves the final checkpoint and metadata in model/.
    if not any(contract.model_dir.iterdir()):
        raise UserError(
            f"{program_name} finished without training: call train_main() of a launcher "
            f"(RayLauncher, or sagemaker_rl's SageMakerRayLauncher / "
            f"SageMakerCoachPresetLauncher; see docs/migration.md) or write the model to "
            f"{contract.model_dir} yourself"
        )


def install_requirements(source: Path) -> None:
    """pip-install the source directory's requirements.txt, as SageMaker's containers do."""
    if not (source / REQUIREMENTS).is_file():
        return
    logger.info("Installing %s from the source directory", REQUIREMENTS)
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-r", REQUIREMENTS],
        cwd=source,
        capture_output=True,
        text=True,
    )
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
        reason = (
            errors[-1][len("ERROR:") :].strip() if errors else f"pip exited {result.returncode}"
        )
        raise UserError(f"{REQUIREMENTS} in the source directory failed to install: {reason}")


def entry_point_command(source: Path, name: str, args: list[str]) -> list[str]:
    from sagemaker_training import _entry_point_type, process

    # sagemaker-training 5 refuses entry point names with shell metacharacters; the Coach
    # images' 4.9 has no such check (the name is quoted below either way).
    validate = getattr(process, "validate_entry_point", None)
    if validate is not None:
        validate(name)
    kind = _entry_point_type.get(str(source), name)
    if kind is _entry_point_type.PYTHON_PACKAGE:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "."],
            cwd=source,
            check=True,
        )
        return [sys.executable, "-m", re.sub(r"\.py$", "", name), *args]
    if kind is _entry_point_type.PYTHON_PROGRAM:
        if (source / "sagemaker_rl").is_dir():
            # The notebooks' copy of the old package beside the script: see run_program.py.
            return [sys.executable, "-m", "sagemaker_rl_container.run_program", name, *args]
        return [sys.executable, "--", name, *args]
    (source / name).chmod(0o755)
    return ["/bin/sh", "-c", " ".join([f"./{shlex.quote(name)}", *map(shlex.quote, args)])]


def _run_child(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str | None]:
    """Run the program, passing SIGTERM on to it and its stderr through to ours; returns its
    exit status and the last line of its stderr that names an error."""
    child = subprocess.Popen(command, cwd=cwd, env=env, stderr=subprocess.PIPE, text=True)
    tail: collections.deque[str] = collections.deque(maxlen=ERROR_TAIL_LINES)

    def copy_stderr() -> None:
        for line in child.stderr or ():
            sys.stderr.write(line)
            sys.stderr.flush()
            tail.append(line.rstrip("\n"))

    reader = threading.Thread(target=copy_stderr, name="program stderr", daemon=True)
    reader.start()
    signals.forward_to(child.pid)
    try:
        returncode = child.wait()
    finally:
        signals.forward_to(None)
    reader.join(timeout=10)
    return returncode, _error_line([line.strip() for line in tail if line.strip()])


def _error_line(stderr: list[str]) -> str | None:
    """What names the program's failure: its last exception line (`ValueError: ...`), else
    its last line on stderr (argparse's `error: ...`, a shell's complaint)."""
    exceptions = [line for line in stderr if EXCEPTION_LINE.match(line)]
    line = exceptions[-1] if exceptions else (stderr[-1] if stderr else None)
    if line is not None and len(line) > MAX_ERROR_LINE:
        line = line[: MAX_ERROR_LINE - 3] + "..."
    return line


def _exit_description(program: str, returncode: int, error_line: str | None) -> str:
    if error_line and EXCEPTION_LINE.match(error_line):
        return f"{program} failed: {error_line}"
    if returncode < 0:
        status = f"was killed by signal {signal.Signals(-returncode).name}"
    else:
        status = f"exited with status {returncode}"
    return f"{program} {status}: {error_line}" if error_line else f"{program} {status}"


def _command_line(hyperparameters: dict) -> list[str]:
    from sagemaker_training import mapping

    return mapping.to_cmd_args(hyperparameters)
