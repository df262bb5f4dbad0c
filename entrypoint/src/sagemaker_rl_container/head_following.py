"""How a host that is not the head follows it, for either toolkit: wait for the head to be
ready, stay until it reports the job's outcome (or fail once it is unreachable for too long),
then stay until the head's process has ended.

Each toolkit reads the head its own way (Ray: the head's status endpoint; Coach: the head's
Redis) and passes a `read` callable returning the head's status, a dict
`{"state": "running" | "succeeded" | "failed", "reason": ...}` plus whatever the toolkit adds,
or None when the head did not answer this time.

Waiting for the head's exit matters on SageMaker local mode: docker-compose stops every
container once one exits, and the head still writes its summary, model and success marker
after it reports the outcome.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Callable, Optional

from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

# A host that cannot reach the head for this long fails.
HEAD_LOST_AFTER_S = float(os.environ.get("SAGEMAKER_RL_HEAD_LOST_AFTER", "30"))
# After the outcome, how long a host waits for the head's process to end.
HEAD_EXIT_WAIT_S = float(os.environ.get("SAGEMAKER_RL_HEAD_EXIT_WAIT", "120"))
POLL_S = 1.0

Status = dict
Read = Callable[[], Optional[Status]]


def head_failed(head: str, status: Status) -> UserError:
    return UserError(f"the head host {head} failed: {status.get('reason') or 'unknown'}")


def wait_until_ready(
    head: str,
    read: Read,
    ready: Callable[[Status], bool],
    deadline: float,
    timeout_s: float,
    what: str,
) -> Status:
    """The head's first status for which `ready` holds; fails at once if the head reports a
    failure, and at `deadline` naming `what` the head did not start."""
    while True:
        status = read()
        if status is not None and status.get("state") == "failed":
            raise head_failed(head, status)
        if status is not None and ready(status):
            return status
        if time.monotonic() > deadline:
            raise UserError(
                f"the head host {head} did not start {what} within {timeout_s:g} s "
                f"(rl_cluster_timeout)"
            )
        time.sleep(0.2)  # joining promptly is most of a cluster's start-up time


def follow(head: str, read: Read, check_this_host: Callable[[], None]) -> Status:
    """Until the head reports the outcome: its final status. `check_this_host` runs every
    poll and raises when this host cannot go on (a signal, a failed local process)."""
    last_seen = time.monotonic()
    while True:
        check_this_host()
        status = read()
        if status is not None:
            last_seen = time.monotonic()
            if status.get("state") != "running":
                return status
        elif time.monotonic() - last_seen > HEAD_LOST_AFTER_S:
            raise UserError(
                f"lost contact with the head host {head} for {HEAD_LOST_AFTER_S:g} s: it "
                f"stopped without reporting an outcome (see its logs)"
            )
        time.sleep(POLL_S)


def finish(head: str, outcome: Status, answers: Callable[[], bool]) -> None:
    """After the outcome: stay while the head still answers (so that this host's exit never
    cuts the head's short), then succeed or fail with the head."""
    deadline = time.monotonic() + HEAD_EXIT_WAIT_S
    while time.monotonic() < deadline and answers():
        time.sleep(POLL_S)
    if outcome.get("state") != "succeeded":
        raise head_failed(head, outcome)
    logger.info("The head host %s finished training; this host is done", head)
