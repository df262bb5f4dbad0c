"""Errors a job's user can fix.

sagemaker-training writes `str(error)` of a `ClientError` verbatim to `/opt/ml/output/failure`
and exits 1; every other exception becomes "Framework Error:" plus a traceback. So anything
caused by the job's input is raised as a `UserError` whose message is one line naming the
problem and what to change.
"""

from sagemaker_training.errors import ClientError


class UserError(ClientError):
    """Bad input: a hyperparameter, a missing file or channel, an unusable checkpoint, ..."""

    def __init__(self, message: str) -> None:
        # One line: SageMaker shows the failure file's first 1024 characters as FailureReason.
        super().__init__(" ".join(message.split()))


class TrainingInterrupted(UserError):
    """SIGTERM arrived (spot interruption, `docker stop`): state was checkpointed, not finished."""


def summarize(error: BaseException) -> str:
    """`Type: first line of the message`, for one-line failure reasons."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
