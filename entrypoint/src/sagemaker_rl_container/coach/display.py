"""A virtual screen for presets that render (`vis_params.render`, `dump_gifs`, `dump_mp4`):
gym 0.12's classic-control environments draw with pyglet through OpenGL, which needs an X
display even for `rgb_array` frames. The Coach images carry Xvfb and Mesa for it; a job with no
DISPLAY of its own gets one for as long as it trains."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from typing import Any, Optional

from sagemaker_rl_container.child_processes import end_with_parent
from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

# Far from the :0/:1 a desktop would use.
DISPLAY_NUMBER = 93


def needs_display(graph_manager: Any) -> bool:
    params = getattr(graph_manager, "visualization_parameters", None)
    return any(getattr(params, name, False) for name in ("render", "dump_gifs", "dump_mp4"))


def close_environments(graph_manager: Any) -> None:
    """Close the preset's environments (and gym's rendering windows with them) while Python is
    still whole: left to the interpreter's shutdown, gym's Viewer.__del__ closes its window
    after the modules it needs are gone and prints a traceback into a job that succeeded."""
    try:
        graph_manager.close()
    except Exception as error:  # a job's outcome never hangs on closing a window
        logger.debug("Closing the preset's environments failed: %s", error)


class VirtualDisplay:
    def __init__(self, number: int = DISPLAY_NUMBER) -> None:
        self.number = number
        self.process: Optional[subprocess.Popen] = None

    def start(self) -> None:
        if os.environ.get("DISPLAY"):
            return
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            raise UserError(
                "the preset renders (vis_params.render, dump_gifs or dump_mp4) and there is no "
                "display: set DISPLAY, install Xvfb, or turn rendering off in the preset"
            )
        display = f":{self.number}"
        self.process = subprocess.Popen(
            [xvfb, display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # The job does not stop the display itself: pyglet keeps its connection until the
            # interpreter exits, and Xlib ends a process whose display goes away first.
            preexec_fn=end_with_parent,
        )
        socket = f"/tmp/.X11-unix/X{self.number}"
        deadline = time.monotonic() + 10
        while not os.path.exists(socket):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise UserError(
                    f"the preset renders, and the virtual display (Xvfb {display}) did not "
                    f"start (exit status {self.process.poll()})"
                )
            time.sleep(0.05)
        os.environ["DISPLAY"] = display
        logger.info("The preset renders: a virtual display (Xvfb %s) draws its frames", display)
