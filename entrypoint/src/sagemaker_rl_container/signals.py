"""Graceful stop on SIGTERM: SageMaker sends it on spot interruption and `StopTrainingJob`,
`docker stop` sends it too, and kills the container 120 s later (docker: 10 s by default).

The job checks `requested()` between iterations and phases, checkpoints, and stops; a second
SIGTERM stops at once. Whatever the job is doing, it exits 143 within `GRACE_S` of the first
SIGTERM: a watchdog then writes the failure line and exits, losing only the work since the
newest checkpoint (which time-based checkpoints bound). While a script-mode program runs as a
child process, every SIGTERM is passed on to it instead (`forward_to`): the program does the
stopping.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

logger = logging.getLogger(__name__)

# Seconds from the first SIGTERM to a forced exit: inside SageMaker's 120 s, with room to spare.
GRACE_S = float(os.environ.get("SAGEMAKER_RL_SIGTERM_GRACE", "50"))

_received = threading.Event()
_forward_pid: int | None = None
_failure_file: Path | None = None
# Called on the first SIGTERM, in the main thread (a Tune sweep, which has its own loop).
_listeners: list[Callable[[], None]] = []


def requested() -> bool:
    return _received.is_set()


def install(failure_file: Path | None = None) -> None:
    """(Re)install the handler; `failure_file` is where the watchdog writes its reason."""
    global _failure_file
    if failure_file is not None:
        _failure_file = failure_file
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handle)


@contextlib.contextmanager
def kept_through_ray() -> Iterator[None]:
    """Keep this handler while Ray starts: `ray.init` installs its own, which exits with
    SystemExit(15) from wherever the main thread is (it has been seen swallowed inside
    logging's fork hook, hanging the job) and kills Ray's processes before the job can
    checkpoint."""
    import ray._private.utils as ray_utils

    original = ray_utils.set_sigterm_handler
    ray_utils.set_sigterm_handler = lambda handler: None
    try:
        yield
    finally:
        ray_utils.set_sigterm_handler = original


@contextlib.contextmanager
def when_requested(listener: Callable[[], None]) -> Iterator[None]:
    """Call `listener` on the first SIGTERM while this block runs (a loop that is not ours,
    such as Tune's, cannot check `requested()` between its steps)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def forward_to(pid: int | None) -> None:
    """Pass SIGTERM on to process `pid` from now on (None: handle it here again)."""
    global _forward_pid
    _forward_pid = pid


def _handle(signum: int, frame: FrameType | None) -> None:
    if _forward_pid is not None:
        _received.set()
        logger.warning("SIGTERM received: passed on to the training program")
        with contextlib.suppress(ProcessLookupError):  # it has just ended
            os.kill(_forward_pid, signum)
        return
    if _received.is_set():
        logger.warning("Second SIGTERM: stopping now without a checkpoint")
        sys.exit(128 + signum)
    _received.set()
    logger.warning("SIGTERM received: finishing the current iteration, then checkpointing")
    threading.Thread(target=_watchdog, name="SIGTERM watchdog", daemon=True).start()
    for listener in list(_listeners):
        listener()


def _watchdog() -> None:
    time.sleep(GRACE_S)
    reason = (
        f"training interrupted by SIGTERM; it did not reach its next checkpoint within "
        f"{GRACE_S:g} s, so a restart resumes from the newest checkpoint there is"
    )
    logger.error("%s: exiting now", reason)
    try:
        if _failure_file is not None and not _failure_file.exists():
            _failure_file.write_text(reason)
        _kill_children()
    finally:
        logging.shutdown()
        os._exit(128 + signal.SIGTERM)


def _kill_children() -> None:
    """The toolkit's own processes (Ray's raylet, workers) must not outlive the job where no
    container's end takes them along."""
    try:
        import psutil
    except ImportError:
        return
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            child.kill()
