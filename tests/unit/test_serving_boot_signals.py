"""The worker-boot stop hook on both queue kinds gunicorn has used: the SimpleQueue of
gunicorn 27 (Ray and ONNX images, also run for real in tests/serving) and the list of
gunicorn 23 (the MXNet serve image)."""

from __future__ import annotations

import logging
import queue
import signal
from types import SimpleNamespace

import pytest

from sagemaker_rl_container.serving import server


def booted_worker(caught):
    worker = SimpleNamespace(alive=True, pid=7, log=logging.getLogger("test"))
    server._keep_signals_caught_while_booting(SimpleNamespace(SIG_QUEUE=caught), worker)
    server._stop_if_told_while_booting(worker)
    return worker


def simple_queue(*signals):
    caught = queue.SimpleQueue()
    for sig in signals:
        caught.put_nowait(sig)
    return caught


@pytest.mark.parametrize("kind", [list, simple_queue], ids=["gunicorn 23", "gunicorn 27"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT])
def test_a_stop_caught_before_the_workers_handlers_stops_it(kind, sig):
    caught = kind([signal.SIGCHLD, sig]) if kind is list else kind(signal.SIGCHLD, sig)
    assert booted_worker(caught).alive is False


@pytest.mark.parametrize("kind", [list, simple_queue], ids=["gunicorn 23", "gunicorn 27"])
def test_other_signals_caught_while_booting_leave_the_worker_serving(kind):
    caught = kind([signal.SIGCHLD, signal.SIGTTIN]) if kind is list else kind(signal.SIGCHLD)
    assert booted_worker(caught).alive is True


def test_a_master_without_the_queue_leaves_the_hooks_inert():
    """A gunicorn whose master keeps no SIG_QUEUE (or another kind of one) boots as before."""
    worker = SimpleNamespace(alive=True, pid=7, log=logging.getLogger("test"))
    server._keep_signals_caught_while_booting(SimpleNamespace(), worker)
    server._stop_if_told_while_booting(worker)
    assert worker.alive is True
    worker.signals_before_init = {signal.SIGTERM}
    server._stop_if_told_while_booting(worker)
    assert worker.alive is True
