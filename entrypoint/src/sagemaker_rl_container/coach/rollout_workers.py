"""A host's rollout worker processes (rollout.py, one process each): their names across the job,
their start on this host, and their stop."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

from sagemaker_rl_container import hosts
from sagemaker_rl_container.child_processes import end_with_parent

logger = logging.getLogger(__name__)

# Given to each rollout worker process by its host.
ROLLOUT_ENV = "SAGEMAKER_RL_COACH_ROLLOUT"  # "<host>/<index>"
HEAD_ENV = "SAGEMAKER_RL_COACH_HEAD"  # the head host's name

Processes = list[tuple[str, subprocess.Popen]]


def worker_ids(nodes: hosts.Layout, per_host: int) -> list[str]:
    """Every rollout worker of the job, head's first: `<host>/<index>`."""
    ordered = [nodes.head, *nodes.workers]
    return [f"{host}/{index}" for host in ordered for index in range(per_host)]


def on_host(ids: list[str], host: str) -> list[str]:
    return [worker for worker in ids if worker.startswith(f"{host}/")]


def spawn(ids: list[str], head: str) -> Processes:
    """This host's rollout worker processes (coach/rollout.py)."""
    started = []
    for worker in ids:
        env = {**os.environ, ROLLOUT_ENV: worker, HEAD_ENV: head}
        process = subprocess.Popen(
            [sys.executable, "-m", "sagemaker_rl_container.coach.rollout"],
            env=env,
            # Its own session: a SIGTERM for this host's `train` reaches it through the
            # outcome (or its parent's exit), after the head checkpointed.
            start_new_session=True,
            preexec_fn=end_with_parent,
        )
        started.append((worker, process))
    logger.info("Rollout workers started on this host: %s", ", ".join(ids))
    return started


def stop(processes: Processes, wait_s: float) -> None:
    """Each process ends within `wait_s` (they stop on the outcome), or is terminated."""
    deadline = time.monotonic() + wait_s
    for _, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
