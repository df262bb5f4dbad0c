"""A host of a distributed Coach job that only plays: its `train` process waits for the head's
Redis to hold the job's config, starts this host's rollout workers, follows the head until it
reports the outcome (head_following.py), and ends with the head."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any, Optional

from sagemaker_rl_container import head_following, hosts, signals
from sagemaker_rl_container.coach import data_store, rollout_workers
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError

logger = logging.getLogger(__name__)


def settings(contract: TrainingContract) -> tuple[hosts.Layout, float]:
    """Where the head is and how long to wait for it, from the job's hyperparameters alone:
    a rollout host does not run the entry script (in script mode it is what maps the other
    hyperparameters), it takes the head's settings from the head."""
    from sagemaker_rl_container.config import decode_value

    group = contract.hyperparameters.get("rl_head_instance_group")
    timeout = contract.hyperparameters.get("rl_cluster_timeout", 300)
    try:
        timeout_s = float(decode_value(timeout))
    except (TypeError, ValueError):
        raise UserError(
            f"hyperparameter rl_cluster_timeout={timeout!r} is invalid: give seconds"
        ) from None
    head_group = None if group is None else str(decode_value(group))
    return hosts.layout(contract, head_group), timeout_s


def run(contract: TrainingContract, nodes: hosts.Layout, timeout_s: float) -> None:
    """Start this host's rollout workers once the head's Redis answers with the job's config;
    stay until the head reports the outcome (exit 0 on success) or is lost (fail)."""
    deadline = time.monotonic() + timeout_s
    head_ip = hosts.resolve(nodes.head, deadline, "head")
    connection = data_store.connect(head_ip, data_store.password(contract))

    def read() -> Optional[dict]:
        return _read_head(connection)

    logger.info("Waiting for the Coach trainer's Redis on %s (%s)", nodes.head, head_ip)
    status = head_following.wait_until_ready(
        nodes.head,
        read,
        lambda status: status["config"] is not None,
        deadline,
        timeout_s,
        "the Coach trainer's Redis",
    )
    ids = rollout_workers.on_host(
        rollout_workers.worker_ids(nodes, status["config"].rollout_workers_per_host),
        contract.current_host,
    )
    signals.install()
    processes = rollout_workers.spawn(ids, nodes.head)
    try:
        outcome = head_following.follow(
            nodes.head, read, lambda: _check_workers(connection, processes)
        )
        # This host's rollout workers read the outcome too and stop; then the head may exit.
        rollout_workers.stop(processes, wait_s=10)
        with contextlib.suppress(Exception):
            data_store.acknowledge(connection, [worker for worker, _ in processes])
    finally:
        # On SIGTERM the head checkpoints: this host's rollouts stop at once.
        rollout_workers.stop(processes, wait_s=0 if signals.requested() else 30)
    head_following.finish(nodes.head, outcome, lambda: _answers(connection))


def _read_head(connection: Any) -> Optional[dict]:
    """The head's status as head_following reads it; None while its Redis does not answer."""
    try:
        config = data_store.read_config(connection)
        outcome = data_store.read_outcome(connection)
    except Exception as error:
        if data_store.refused_password(error):
            raise data_store.password_error() from None
        return None
    return {"state": "running", **(outcome or {}), "config": config}


def _check_workers(connection: Any, processes: rollout_workers.Processes) -> None:
    if signals.requested():
        raise TrainingInterrupted(
            "training interrupted by SIGTERM on a rollout host: the head host saves the checkpoint"
        )
    for worker, process in processes:
        if process.poll() not in (None, 0):
            try:
                reason = data_store.failure(connection, worker)
            except Exception:
                continue  # the head is unreachable: head_following says so in time
            raise UserError(
                f"rollout worker {worker} failed: {reason or f'exit status {process.returncode}'}"
            )


def _answers(connection: Any) -> bool:
    try:
        connection.ping()
        return True
    except Exception:
        return False
