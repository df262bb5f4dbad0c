"""Errors a job's user can fix.

sagemaker-training writes `str(error)` of a `ClientError` verbatim to `/opt/ml/output/failure`
and exits 1; every other exception becomes "Framework Error:" plus a traceback. So anything
caused by the job's input is raised as a `UserError` whose message is one line naming the
problem and what to change.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sagemaker_training.errors import ClientError

# SageMaker shows the failure file's first 1024 characters as the job's FailureReason.
MAX_MESSAGE = 1000
# Ray's errors for a remote worker (an env runner) that died: its own error is only in the log.
REMOTE_WORKER_DEATHS = ("ActorDiedError", "RayActorError", "ActorUnavailableError")
# A value quoted in a message beyond this is elided (the whole value is in the job's input).
MAX_SHOWN_VALUE = 200


class UserError(ClientError):
    """Bad input: a hyperparameter, a missing file or channel, an unusable checkpoint, ..."""

    def __init__(self, message: str) -> None:
        line = " ".join(message.split())
        if len(line) > MAX_MESSAGE:  # the key and the problem come first: keep the start
            line = line[: MAX_MESSAGE - 30] + f" ... ({len(line)} characters)"
        super().__init__(line)


class TrainingInterrupted(UserError):
    """SIGTERM arrived (spot interruption, `docker stop`): state was checkpointed, not finished."""


class JobFailed(UserError):
    """An unexpected error ended the job (in the user's environment or preset, in the toolkit,
    or here): its one line names it and where it was raised; the traceback is in the log."""

    @classmethod
    def from_exception(cls, error: BaseException) -> JobFailed:
        cause = root_cause(error)
        where = _user_frame(cause)
        line = f"training failed: {summarize(cause)}{f' (at {where})' if where else ''}"
        if type(cause).__name__ in REMOTE_WORKER_DEATHS:
            line += "; a remote worker died: the error that killed it is in the log above"
        return cls(line)


class ExportStepFailed(Exception):
    """One named step of an export failed (see `export_step`); the cause is chained."""

    def __init__(self, step: str, error: BaseException) -> None:
        super().__init__(f"{step}: {summarize(error)}")
        self.step = step


@contextmanager
def export_step(description: str) -> Iterator[None]:
    """Name what the enclosed code exports, so that a failure says which step failed and on
    what object (`describing the action space BoxActionSpace(...)`)."""
    try:
        yield
    except (ExportStepFailed, UserError):
        raise
    except Exception as error:
        raise ExportStepFailed(description, error) from error


class ExportFailed(UserError):
    """Export failed after training; the final checkpoint was already kept in model/."""

    @classmethod
    def after_training(cls, error: BaseException, kept: str) -> ExportFailed:
        if isinstance(error, UserError):
            reason = str(error)
        else:
            steps = [e.step for e in causes(error) if isinstance(e, ExportStepFailed)]
            cause = root_cause(error)
            where = _user_frame(cause)
            reason = "export failed" + (
                f" while {steps[0]}" if steps else f" (at {where})" if where else ""
            )
            reason += f": {summarize(cause)}"
        return cls(f"{reason}; nothing trained is lost: {kept}")


def shown(value: Any) -> str:
    """`repr(value)` for a message, elided when long."""
    text = repr(value)
    if len(text) <= MAX_SHOWN_VALUE:
        return text
    return f"{text[: MAX_SHOWN_VALUE - 40]}...{text[-20:]} ({len(text)} characters)"


def summarize(error: BaseException) -> str:
    """`Type: first line of the message`, for one-line failure reasons."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


# "RuntimeError: the simulator lost its state" in a traceback's text.
_ERROR_LINE = re.compile(r"^(\w+(?:Error|Exception|Exit|Interrupt)): (\S.*)$", re.MULTILINE)


def summarize_root(error: BaseException) -> str:
    """`summarize` of the error under Ray's wrappers. An error raised in another process
    arrives without its own chain: when its message is empty (RLlib re-raises an env's error
    as a bare `RuntimeError from error`), the first error line of the remote traceback names
    what was raised first."""
    cause = root_cause(error)
    if str(cause).strip():
        return summarize(cause)
    found = _ERROR_LINE.search(str(error))
    return f"{found[1]}: {found[2]}" if found else summarize(cause)


def root_cause(error: BaseException) -> BaseException:
    """The error under the wrappers: Ray's task errors (`.cause`), then the exception chain."""
    return causes(error)[-1]


def causes(error: BaseException) -> list[BaseException]:
    """`error`, then each error under it (Ray's `.cause`, else `__cause__`), outermost first;
    a chain that loops ends with the first error met twice."""
    chain = [error]
    while True:
        inner = getattr(error, "cause", None)
        error = inner if isinstance(inner, BaseException) else error.__cause__
        if error is None:
            return chain
        looped = any(error is seen for seen in chain)
        chain.append(error)
        if looped:
            return chain


def _user_frame(error: BaseException) -> str | None:
    """`file.py:line` of the innermost frame outside installed packages: the user's code."""
    frames = traceback.extract_tb(error.__traceback__) if error.__traceback__ else []
    for frame in reversed(frames):
        installed = "site-packages" in frame.filename or "/lib/python" in frame.filename
        if not installed and "sagemaker_rl_container" not in frame.filename:
            return f"{os.path.basename(frame.filename)}:{frame.lineno}"
    return None
