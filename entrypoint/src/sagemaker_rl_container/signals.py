"""Graceful stop on SIGTERM: SageMaker sends it on spot interruption and `StopTrainingJob`,
`docker stop` sends it too. The trainer checks `requested()` between iterations, checkpoints, and
stops; a second SIGTERM stops at once. While a script-mode program runs as a child process,
every SIGTERM is passed on to it instead (`forward_to`): the program does the stopping.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from types import FrameType

logger = logging.getLogger(__name__)

_received = threading.Event()
_forward_pid: int | None = None


def requested() -> bool:
    return _received.is_set()


def install() -> None:
    """(Re)install the handler. Ray's `ray.init` replaces SIGTERM handlers, so call it after."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handle)


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
