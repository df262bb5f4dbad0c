"""One Ray cluster across a SageMaker job's hosts, formed from resourceconfig.json alone.

Every host runs the same image and `train`. The head (the first host, or the first host of
`rl_head_instance_group`) starts the Ray head node, waits until every other host has joined
(naming the missing ones if the deadline passes), trains, and publishes the outcome on a small
status endpoint. The other hosts join the head by host name and wait: they exit 0 when the head
reports success, non-zero when it reports failure or cannot be reached (head_following.py).
Only the head writes the model and checkpoints.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.error import HTTPError, URLError
from urllib.request import Request, urlopen

from sagemaker_rl_container import head_following, signals
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.hosts import Layout, node_ip, resolve
from sagemaker_rl_container.ray_rllib import sizing
from sagemaker_rl_container.ray_rllib.ray_node import (
    HEALTH_CHECK_FAILURES,
    HEALTH_CHECK_PERIOD_MS,
    RayNode,
    configure_auth,
    connect_driver,
)

logger = logging.getLogger(__name__)

GCS_PORT = int(os.environ.get("SAGEMAKER_RL_RAY_PORT", 6379))
STATUS_PORT = int(os.environ.get("SAGEMAKER_RL_STATUS_PORT", 6390))


def _authorization() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ.get('RAY_AUTH_TOKEN', '')}"}


def learner_slots(contract: TrainingContract) -> list[str]:
    """`ray start`'s argument that offers this host's share of the job's learners, so that a
    zero-code job's learners spread one share per host (sizing.py)."""
    hosts = len(contract.hosts)
    slots = sizing.learners_for(contract.num_cpus * hosts, contract.num_gpus * hosts, hosts)
    if not slots or slots % hosts:
        return []
    return [f"--resources={json.dumps({sizing.LEARNER_SLOT: slots // hosts})}"]


# ---- head ------------------------------------------------------------------------------------


class HeadStatus:
    """What the head tells the other hosts: running, succeeded, or failed with a reason."""

    def __init__(self, ip: str, expected_readers: int) -> None:
        self.state: dict = {"state": "running", "ray_ready": False}
        self.expected_readers = expected_readers
        self.final_readers: set[str] = set()
        status = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                expected = _authorization()["Authorization"]
                if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps(status.state).encode()
                if status.state["state"] != "running":
                    status.final_readers.add(self.headers.get("X-Host") or self.client_address[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((ip, STATUS_PORT), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ray_ready(self) -> None:
        self.state = {**self.state, "ray_ready": True}

    def finish(self, succeeded: bool, reason: str = "", linger_s: float = 5) -> None:
        """Publish the outcome and give the other hosts a moment to read it. The endpoint
        keeps answering until this process exits: the other hosts stay until then, because
        SageMaker local mode (docker-compose) stops every container once one exits, and the
        head still writes its summary and success marker after training."""
        self.state = {"state": "succeeded" if succeeded else "failed", "reason": reason}
        deadline = time.monotonic() + linger_s
        while len(self.final_readers) < self.expected_readers and time.monotonic() < deadline:
            time.sleep(0.2)


class Head:
    """The head host: Ray head node, status endpoint, and the wait for every host to join."""

    def __init__(self, contract: TrainingContract, nodes: Layout, timeout_s: float) -> None:
        configure_auth(contract)
        self.contract = contract
        self.nodes = nodes
        self.deadline = time.monotonic() + timeout_s
        self.timeout_s = timeout_s
        self.ip = node_ip(contract, self.deadline)
        self.address = f"{self.ip}:{GCS_PORT}"
        # Up first, so the other hosts learn of a failure even before Ray starts.
        self.status = HeadStatus(self.ip, expected_readers=len(self.nodes.workers))
        # The Ray head starts in the background while the job's configuration is validated;
        # the other hosts join as soon as its GCS port answers.
        self.node = RayNode(
            [
                "--head",
                f"--port={GCS_PORT}",
                f"--node-ip-address={self.ip}",
                f"--num-cpus={contract.num_cpus}",
                f"--num-gpus={contract.num_gpus}",
                *learner_slots(contract),
                "--include-dashboard=false",
                # No autoscaler on SageMaker: its monitor process (~0.4 CPU s to start, then
                # polling) serves nothing here. The log monitor stays: it carries the env
                # runners' output to this job's log.
                "--no-monitor",
            ],
            contract.output_data_dir / "ray-head",
        )
        self.started = time.monotonic()
        threading.Thread(target=self._announce_when_listening, daemon=True).start()

    def _announce_when_listening(self) -> None:
        while self.node.alive() and time.monotonic() < self.deadline:
            try:
                with socket.create_connection((self.ip, GCS_PORT), timeout=1):
                    self.status.ray_ready()
                    return
            except OSError:
                time.sleep(0.1)

    def start(self) -> None:
        """Connect this process as the driver and wait for every host to join."""
        self.wait_for_hosts()
        logger.info(
            "Ray cluster ready: %d hosts (%s) %.1f s after the head started",
            len(self.contract.hosts),
            ", ".join(self.contract.hosts),
            time.monotonic() - self.started,
        )

    def wait_for_hosts(self) -> None:
        self.node.wait_listening((self.ip, GCS_PORT), self.deadline, "the Ray head node")
        connect_driver(self.address)
        expected = len(self.contract.hosts)
        last_report = 0.0
        while True:
            alive = self.alive_ips()
            if len(alive) >= expected:
                return
            if not self.node.alive():
                raise UserError(f"the Ray head node stopped: see {self.node.log_path}")
            if time.monotonic() > self.deadline:
                missing = self.missing_hosts(alive)
                raise UserError(
                    f"hosts {', '.join(missing)} did not join the Ray cluster within "
                    f"{self.timeout_s:g} s (rl_cluster_timeout); {len(alive)} of {expected} "
                    f"hosts joined"
                )
            if time.monotonic() - last_report > 10:
                logger.info("Waiting for hosts to join: %d of %d", len(alive), expected)
                last_report = time.monotonic()
            time.sleep(0.2)

    @staticmethod
    def alive_ips() -> list[str]:
        import ray

        return [node["NodeManagerAddress"] for node in ray.nodes() if node["Alive"]]

    def missing_hosts(self, alive: list[str]) -> list[str]:
        missing = []
        for host in self.nodes.workers:
            try:
                ip = socket.gethostbyname(host)
            except OSError:
                missing.append(f"{host} (does not resolve)")
                continue
            if ip not in alive:
                missing.append(host)
        return missing or ["(unknown)"]

    def host_names(self) -> dict[str, str]:
        names = {}
        for host in self.contract.hosts:
            try:
                names[socket.gethostbyname(host)] = host
            except OSError:
                continue
        return names

    def log_placement(self, algo: object) -> dict[str, int]:
        """How many env runners each host got (logged: rollouts should use every host)."""
        import ray

        group = getattr(algo, "env_runner_group", None)
        if group is None or group.num_remote_env_runners() == 0:
            return {}
        node_ids = group.foreach_env_runner(
            lambda _runner: ray.get_runtime_context().get_node_id(), local_env_runner=False
        )
        names = self.host_names()
        hosts = {
            node["NodeID"]: names.get(node["NodeManagerAddress"], node["NodeManagerAddress"])
            for node in ray.nodes()
        }
        # The head node may report another of this machine's addresses: name it by its ID.
        hosts[ray.get_runtime_context().get_node_id()] = self.nodes.head
        per_host: dict[str, int] = {}
        for node_id in node_ids:
            host = hosts.get(node_id, node_id)
            per_host[host] = per_host.get(host, 0) + 1
        logger.info(
            "Env runners per host: %s",
            ", ".join(f"{host} x{count}" for host, count in sorted(per_host.items())),
        )
        return per_host

    def host_lost_in(self, step: str) -> UserError | None:
        """After `step` (e.g. "iteration 3") failed: the error naming the hosts that left the
        cluster, if that is why (a learner on a lost host fails the step before Ray's health
        check has marked the host dead, so this waits for that, a few seconds at most)."""
        deadline = time.monotonic() + 2 * HEALTH_CHECK_PERIOD_MS * HEALTH_CHECK_FAILURES / 1000
        while True:
            alive = self.alive_ips()
            if len(alive) < len(self.contract.hosts):
                return UserError(
                    f"host {', '.join(self.missing_hosts(alive))} left the Ray cluster during "
                    f"training, and {step} failed with it (a learner was on it): restart the "
                    f"job to resume from its last checkpoint"
                )
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.5)

    def check_hosts(self) -> None:
        """Between iterations: every host must still be in the cluster."""
        alive = self.alive_ips()
        if len(alive) < len(self.contract.hosts):
            raise UserError(
                f"host {', '.join(self.missing_hosts(alive))} left the Ray cluster during "
                f"training; a checkpoint was saved, restart the job to resume"
            )

    def stop(self, succeeded: bool, reason: str = "") -> None:
        import ray

        self.status.finish(succeeded, reason)
        ray.shutdown()
        signals.install()  # ray.shutdown resets SIGTERM's handler (see RayTrainer.close)
        self.node.stop()


# ---- the other hosts ---------------------------------------------------------------------------


def run_worker(contract: TrainingContract, nodes: Layout, timeout_s: float) -> None:
    """Join the head's cluster and stay until the head reports the outcome."""
    configure_auth(contract)
    deadline = time.monotonic() + timeout_s
    head_ip = resolve(nodes.head, deadline, "head")
    ip = node_ip(contract, deadline)
    status_url = f"http://{head_ip}:{STATUS_PORT}/status"

    def read() -> dict | None:
        return _read_status(status_url, contract.current_host)

    logger.info("Joining the Ray head on %s (%s) from %s", nodes.head, head_ip, ip)
    head_following.wait_until_ready(
        nodes.head,
        read,
        lambda status: status.get("ray_ready"),
        deadline,
        timeout_s,
        "the Ray cluster",
    )
    node = RayNode(
        [
            f"--address={head_ip}:{GCS_PORT}",
            f"--node-ip-address={ip}",
            f"--num-cpus={contract.num_cpus}",
            f"--num-gpus={contract.num_gpus}",
            *learner_slots(contract),
        ],
        contract.output_data_dir / "ray-worker",
    )
    warned: list[bool] = []

    def check_node() -> None:
        # The head notices a lost node and reports the outcome; this host only says so.
        if not node.alive() and not warned:
            logger.warning("This host's Ray node exited (see %s)", node.log_path)
            warned.append(True)

    try:
        outcome = head_following.follow(nodes.head, read, check_node)
    finally:
        node.stop()
    head_following.finish(nodes.head, outcome, lambda: read() is not None)


def _read_status(url: str, me: str) -> dict | None:
    try:
        with urlopen(
            Request(url, headers={"X-Host": me, **_authorization()}), timeout=5
        ) as response:
            return json.loads(response.read())
    except HTTPError as error:
        if error.code == 401:
            raise UserError(
                "the head host refused this host's cluster token: the hosts were given different "
                "hyperparameters or RAY_AUTH_TOKEN values"
            ) from None
        return None
    except (URLError, OSError, ValueError):
        return None
