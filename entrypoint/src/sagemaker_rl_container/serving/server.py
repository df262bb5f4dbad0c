"""`serve`: gunicorn running the WSGI app, one worker per usable CPU, each with its own
onnxruntime session (loaded after the fork), on SageMaker's port (settings.py)."""

from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from sagemaker_rl_container.serving import settings

logger = logging.getLogger(__name__)


class _Server(BaseApplication):
    def __init__(self, model_dir: Path, options: dict[str, Any]) -> None:
        self.model_dir = model_dir
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings:  # the Coach images' older gunicorn lacks some
                self.cfg.set(key, value)

    def load(self) -> Any:
        from sagemaker_rl_container.serving.app import create_app

        return create_app(self.model_dir)


def gunicorn_options(serving: settings.ServingSettings) -> dict[str, Any]:
    return {
        "bind": serving.bind,
        "workers": serving.workers,
        # Threads let a worker keep SageMaker's keep-alive connections open while serving others.
        "worker_class": "gthread",
        "threads": serving.threads,
        "keepalive": 75,  # longer than SageMaker's 60 s idle connection timeout
        "timeout": serving.timeout_s,
        "backlog": 2048,
        # Workers' heartbeat files in memory: the root filesystem may be read-only (the
        # serve-only image runs so) and /tmp a small tmpfs.
        "worker_tmp_dir": "/dev/shm" if os.access("/dev/shm", os.W_OK) else None,
        # gunicorn's runtime-management socket (in ~/.gunicorn): nothing here uses it, and the
        # home directory may be read-only.
        "control_socket_disable": True,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "post_fork": _keep_signals_caught_while_booting,
        "post_worker_init": _stop_if_told_while_booting,
    }


_STOPPING = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})


def _keep_signals_caught_while_booting(arbiter: Any, worker: Any) -> None:
    """From fork until the worker installs its own handlers, a signal reaches the handler it
    inherited from the master, which only queues it in the worker's copy of the master's
    queue: a stop sent then (`docker stop` while the server boots) was lost, and the master
    waited out its 30 s graceful timeout before killing the worker. Keep that queue."""
    worker.signals_before_init = getattr(arbiter, "SIG_QUEUE", None)


def _stop_if_told_while_booting(worker: Any) -> None:
    """Runs once the worker's own handlers are in place: act on a stop the inherited
    handler queued."""
    caught = getattr(worker, "signals_before_init", None)
    signals: list[Any] = []
    if isinstance(caught, list):  # gunicorn 23 (Coach and MXNet serve images) queues in a list
        signals = list(caught)
    elif hasattr(caught, "get_nowait"):  # gunicorn 27: a SimpleQueue
        while True:
            try:
                signals.append(caught.get_nowait())
            except queue.Empty:
                break
    if _STOPPING.intersection(signals):
        worker.log.info("Worker %s: told to stop while booting, stopping", worker.pid)
        worker.alive = False


def model_dir() -> Path:
    """Where SageMaker unpacks model.tar.gz. The same base directory the training contract
    reads (contract.base_dir), found here without it: serve-only images carry no
    sagemaker-training, which the contract's errors build on."""
    return Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "model"


def serve(model_dir: Path) -> None:
    try:
        serving = settings.from_environment()
    except settings.SettingError as error:
        logger.error("Cannot serve: %s", error)
        sys.exit(2)
    logger.info(
        "Serving %s on %s with %d workers x %d threads, %d s timeout, bodies up to %.1f MB",
        model_dir,
        serving.bind,
        serving.workers,
        serving.threads,
        serving.timeout_s,
        serving.max_body_bytes / settings.MB,
    )
    _temporary_files_in_memory()
    _import_before_forking()
    _Server(model_dir, gunicorn_options(serving)).run()


def _temporary_files_in_memory() -> None:
    """TensorFlow (and tempfile's users) need a temporary directory: on a read-only root
    filesystem without a writable /tmp, use /dev/shm, which Docker always mounts writable."""
    wanted = os.environ.get("TMPDIR") or "/tmp"
    if os.access(wanted, os.W_OK) or not os.access("/dev/shm", os.W_OK):
        return
    os.environ["TMPDIR"] = "/dev/shm"
    tempfile.tempdir = None  # found again, from TMPDIR


def _import_before_forking() -> None:
    """Import the app (numpy, falcon) once, in the master: every worker forks with it loaded,
    so the first /ping answers sooner, and the workers share those pages. Not onnxruntime:
    a worker forked from a master that imported it hangs on exit (gunicorn's graceful stop
    then waits out its timeout); each worker imports it with its own session."""
    import sagemaker_rl_container.serving.app  # noqa: F401
