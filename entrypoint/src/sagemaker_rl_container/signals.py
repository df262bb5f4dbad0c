"""Graceful stop on SIGTERM: SageMaker sends it on spot interruption and `StopTrainingJob`,
`docker stop` sends it too. The trainer checks `requested()` between iterations, checkpoints, and
stops; a second SIGTERM stops at once.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

logger = logging.getLogger(__name__)

_received = threading.Event()


def requested() -> bool:
    return _received.is_set()


def install() -> None:
    """(Re)install the handler. Ray's `ray.init` replaces SIGTERM handlers, so call it after."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _handle)


def _handle(signum: int, frame: FrameType | None) -> None:
    if _received.is_set():
        logger.warning("Second SIGTERM: stopping now without a checkpoint")
        sys.exit(128 + signum)
    _received.set()
    logger.warning("SIGTERM received: finishing the current iteration, then checkpointing")
