"""`serve`: gunicorn running the WSGI app, one worker per CPU, each with its own onnxruntime
session (loaded after the fork), on SageMaker's port."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

logger = logging.getLogger(__name__)

DEFAULT_PORT = 8080


class _Server(BaseApplication):
    def __init__(self, model_dir: Path, options: dict[str, Any]) -> None:
        self.model_dir = model_dir
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from sagemaker_rl_container.serving.app import create_app

        return create_app(self.model_dir)


def options_from_environment() -> dict[str, Any]:
    """Settings SageMaker (or the user) passes as environment variables."""
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", DEFAULT_PORT))
    # Every interface by default (a container's port is published by Docker); one address,
    # e.g. 127.0.0.1 or an IPv6 [::1], where the server should listen on that alone.
    address = os.environ.get("SAGEMAKER_RL_BIND_ADDRESS", "0.0.0.0")
    workers = int(os.environ.get("SAGEMAKER_MODEL_SERVER_WORKERS", os.cpu_count() or 1))
    return {
        "bind": f"{address}:{port}",
        "workers": workers,
        # Threads let a worker keep SageMaker's keep-alive connections open while serving others.
        "worker_class": "gthread",
        "threads": int(os.environ.get("SAGEMAKER_MODEL_SERVER_THREADS", 4)),
        "keepalive": 75,  # longer than SageMaker's 60 s idle connection timeout
        "timeout": int(os.environ.get("SAGEMAKER_MODEL_SERVER_TIMEOUT", 60)),
        "backlog": 2048,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
    }


def serve(model_dir: Path) -> None:
    options = options_from_environment()
    logger.info("Serving %s on %s with %d workers", model_dir, options["bind"], options["workers"])
    _Server(model_dir, options).run()
