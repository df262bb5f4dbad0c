"""This host's Ray node as a child process (`ray start --block`), on one host as on many.

The node starts as soon as the job knows its host's resources, and comes up in the background
while the job imports RLlib and the framework and validates its configuration; the driver
connects once its GCS answers. On one host that takes Ray's start-up off the job's critical
path (bench/startup_bench.py), and `ray start` can leave out what a training job does not use,
which `ray.init` always starts: the autoscaler's monitor.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError
from sagemaker_rl_container.hosts import job_secret

logger = logging.getLogger(__name__)

# Ray's health check of each node: a lost host is marked dead after about period x failures.
HEALTH_CHECK_PERIOD_MS = 1000
HEALTH_CHECK_FAILURES = 5
# How long a one-host job waits for its Ray node before failing.
LOCAL_START_TIMEOUT_S = float(os.environ.get("SAGEMAKER_RL_RAY_START_TIMEOUT", 120))


def configure_auth(contract: TrainingContract) -> None:
    """Token authentication for this job's Ray cluster (and status endpoint), the same token on
    every host: the user's `RAY_AUTH_TOKEN` when the job's environment sets one, else
    `hosts.job_secret` (see there for who can derive it)."""
    # Ray reads these when it is first imported: set them before anything imports it.
    os.environ["RAY_AUTH_MODE"] = "token"
    if os.environ.get("RAY_AUTH_TOKEN"):
        return
    os.environ["RAY_AUTH_TOKEN"] = job_secret(contract, "sagemaker-rl ray cluster")


def ray_environment() -> dict[str, str]:
    """Ray settings every node must share; set explicitly so they never differ between hosts."""
    env = dict(os.environ)
    # Ray 2.61 makes tokens mandatory; with one token on every node (configure_auth) only the
    # job's hosts join its cluster.
    env["RAY_AUTH_MODE"] = "token" if env.get("RAY_AUTH_TOKEN") else "disabled"
    env.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    # Notice a lost host within seconds rather than Ray's default of tens of seconds.
    env.setdefault("RAY_health_check_period_ms", str(HEALTH_CHECK_PERIOD_MS))
    env.setdefault("RAY_health_check_failure_threshold", str(HEALTH_CHECK_FAILURES))
    # `ray start --block` drains its node for up to 30 s on SIGTERM (for Ray Serve replicas);
    # a job's node has nothing to drain once the job is done, and RayNode.stop gave up after
    # 10 s and killed it: every job's exit, SIGTERM's included, took 10 s longer.
    env.setdefault("RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S", "0")
    return env


def _end_with_parent() -> None:
    """In the child, before `ray start` runs: SIGTERM when the job's process dies, however it
    dies, so that a killed job never leaves its Ray node behind (outside a container nothing
    else would stop it). Only a C call: the fork happens while other threads run."""
    _prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Looked up before any fork (the child may only make the C call); Linux only.
_prctl = (
    ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True).prctl
    if sys.platform == "linux"
    else None
)


class RayNode:
    """`ray start --block` as a child process: stopping it stops this host's Ray processes
    only (`ray stop` would end every Ray process on the machine)."""

    def __init__(self, args: list[str], log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / "ray-node.log"
        self.process = subprocess.Popen(
            # The `ray` next to this interpreter: PATH may not lead to this environment's.
            [
                str(Path(sys.executable).parent / "ray"),
                "start",
                "--block",
                "--disable-usage-stats",
                *args,
            ],
            env=ray_environment(),
            stdout=self.log_path.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # SIGTERM for the trainer must not reach Ray first
            preexec_fn=_end_with_parent if _prctl is not None else None,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """SIGTERM to the node's process group; SIGKILL if it lingers (a raylet whose head is
        gone keeps retrying it)."""
        if not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def wait_listening(self, address: tuple[str, int], deadline: float, what: str) -> None:
        """Until the GCS at `address` accepts connections; a node that stops or misses the
        deadline fails the job naming its log."""
        while True:
            try:
                with socket.create_connection(address, timeout=1):
                    return
            except OSError:
                pass
            if not self.alive():
                raise UserError(
                    f"{what} stopped while starting{self._last_line()}: see {self.log_path}"
                )
            if time.monotonic() > deadline:
                raise UserError(f"{what} did not start{self._last_line()}: see {self.log_path}")
            time.sleep(0.05)

    def _last_line(self) -> str:
        """The node log's last line, which names what went wrong, as ` (line)`."""
        try:
            lines = [
                line.strip() for line in self.log_path.read_text(errors="replace").splitlines()
            ]
        except OSError:
            return ""
        lines = [line for line in lines if line]
        return f" ({lines[-1][:300]})" if lines else ""


class OneHostNode:
    """A one-host job's Ray: a head node on this host alone, on free ports of the loopback
    interface, started before the job's configuration is built (`connect` once it is)."""

    IP = "127.0.0.1"

    def __init__(self, contract: TrainingContract, prestart_workers: bool) -> None:
        """`prestart_workers`: start one idle worker per CPU as the driver connects, for the
        env runners and learners a job with CPUs to spare creates (sizing.py); a job whose
        runners and learner all live in the driver (a 2-vCPU instance) never uses them, and
        their start would compete with its own."""
        configure_auth(contract)
        self.started = time.monotonic()
        self.port = _free_port(self.IP)
        self.node = RayNode(
            [
                "--head",
                f"--port={self.port}",
                f"--node-ip-address={self.IP}",
                f"--num-cpus={contract.num_cpus}",
                f"--num-gpus={contract.num_gpus}",
                "--include-dashboard=false",
                # No autoscaler on SageMaker: its monitor process (~0.7 CPU s to start, then
                # polling) serves nothing here. The log monitor stays: it carries the env
                # runners' output to this job's log.
                "--no-monitor",
                f"--system-config={json.dumps({'prestart_worker_first_driver': prestart_workers})}",
            ],
            contract.output_data_dir / "ray",
        )

    def connect(self) -> None:
        """Connect this process as the driver, once the node's GCS answers."""
        asked = time.monotonic()
        self.node.wait_listening(
            (self.IP, self.port), self.started + LOCAL_START_TIMEOUT_S, "this host's Ray node"
        )
        connect_driver(f"{self.IP}:{self.port}")
        now = time.monotonic()
        logger.info(
            "Connected to this host's Ray node %.1f s after it started; the job's configuration "
            "was ready %.1f s before that",
            now - self.started,
            now - asked,
        )

    def stop(self) -> None:
        self.node.stop()


def connect_driver(address: str) -> None:
    """`ray.init` to this job's cluster at `address`, with the settings its nodes run with.

    Ray's C++ side reads its settings (the token mode among them) when Ray is first imported,
    and a training script imports Ray before the job sets them: they are read again here, as
    Ray's own `ray.init` does when it turns token mode on (without it the driver of a script-
    mode job was refused by its own node, InvalidAuthToken)."""
    import ray

    os.environ.update({k: v for k, v in ray_environment().items() if k.startswith("RAY_")})
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    from ray._raylet import Config

    Config.initialize("")
    ray.init(address=address, configure_logging=False)


def _free_port(ip: str) -> int:
    """A port nothing listens on now (the GCS binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind((ip, 0))
        return int(probe.getsockname()[1])
