"""Import slow modules in a daemon thread while the main thread waits on something else (Ray
starting its processes), so that their import time stays off the job's critical path.

A failed import is ignored here: the code that needs the module imports it again and reports
the error where it belongs.
"""

from __future__ import annotations

import contextlib
import importlib
import threading


def start(*modules: str) -> threading.Thread:
    thread = threading.Thread(
        target=_import_all, args=modules, name=f"import {', '.join(modules)}", daemon=True
    )
    thread.start()
    return thread


def _import_all(*modules: str) -> None:
    for module in modules:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
