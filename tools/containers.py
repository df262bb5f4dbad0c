"""Containers for local runs: the one `docker` call of the tests, benchmarks and examples, and
a multi-host job as SageMaker runs one, a container per host.

    with containers.hosts(image, [root_1, root_2]) as job:
        codes = job.wait(timeout=600)

Each root is a host's /opt/ml (tools/local_job.py lays one out); the host's name comes from its
resourceconfig.json (`current_host`), as SageMaker names it. The hosts share a Docker network
of their own, on which each answers to its host name. Names are unique to the run (the
process and a random part), so concurrent runs never share a container or network. Every
host's log is written to `<root>/train.log` when the job ends, and every container and the
network are removed however the block ends: by label, so that a container whose `docker run`
timed out on the client side is removed too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repository's wrapper finds (or starts) an engine.
DOCKER = str(ROOT / "tools" / "docker")
LABEL = "sagemaker-rl.local-run"


def docker(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DOCKER, *args], capture_output=True, text=True, timeout=timeout, check=check
    )


def unique_name(prefix: str) -> str:
    """A name no concurrent run uses: the prefix, this process and a random part."""
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def remove_labelled(value: str) -> None:
    """Every container carrying this run's label, running or not."""
    listed = docker("ps", "-aq", "--filter", f"label={LABEL}={value}", check=False)
    ids = listed.stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False, timeout=60)


def host_name(root: Path) -> str:
    """The host a /opt/ml directory is for (its resourceconfig.json)."""
    resources = json.loads((root / "input" / "config" / "resourceconfig.json").read_text())
    return str(resources["current_host"])


@dataclass
class Host:
    """One host's container of a running job."""

    name: str
    container: str
    root: Path
    id: str = ""

    def logs(self) -> str:
        # Coach prints to stdout, the job's own logging goes to stderr: both, as SageMaker shows.
        logs = docker("logs", self.container, check=False, timeout=60)
        return logs.stdout + logs.stderr

    def wait(self, timeout: float) -> int:
        return int(docker("wait", self.container, timeout=timeout).stdout.strip())

    def exit_code(self) -> int:
        return int(docker("inspect", "-f", "{{.State.ExitCode}}", self.container).stdout)

    def running(self) -> bool:
        state = docker("inspect", "-f", "{{.State.Running}}", self.container, check=False)
        return state.stdout.strip() == "true"

    def signal(self, name: str) -> None:
        docker("kill", "--signal", name, self.container)

    def wait_for_log(self, needle: str, timeout: float) -> str:
        """The log once it holds `needle`; AssertionError if the host exits first or the
        time runs out (a test's failure, with the log's tail)."""
        deadline = time.monotonic() + timeout
        while True:
            log = self.logs()
            if needle in log:
                return log
            if not self.running():
                raise AssertionError(f"{self.name} exited before {needle!r}:\n{log[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} from {self.name}:\n{log[-3000:]}")
            time.sleep(0.5)


@dataclass
class Job:
    """A multi-host job's containers, by host name (resourceconfig.json's order)."""

    network: str
    hosts: dict[str, Host] = field(default_factory=dict)
    started: float = 0.0  # time.monotonic() as the first host's `docker run` began

    def wait(self, timeout: float) -> dict[str, int]:
        """Every host's exit code, once all have exited."""
        deadline = time.monotonic() + timeout
        return {
            name: host.wait(max(1.0, deadline - time.monotonic()))
            for name, host in self.hosts.items()
        }

    def logs(self) -> dict[str, str]:
        return {name: host.logs() for name, host in self.hosts.items()}

    def save_logs(self) -> None:
        for host in self.hosts.values():
            with contextlib.suppress(Exception):
                (host.root / "train.log").write_text(host.logs())


@contextlib.contextmanager
def network(prefix: str = "sagemaker-rl") -> Iterator[str]:
    """A Docker network of its own for a run's containers (start them with `run_on`); they
    and the network are removed however the block ends."""
    name = unique_name(prefix)
    docker("network", "create", name)
    try:
        yield name
    finally:
        remove_labelled(name)
        docker("network", "rm", name, check=False, timeout=60)


def run_on(network: str, host: str, *args: str) -> tuple[str, str]:
    """`docker run -d ARGS` as `host` on `network` (its name there); returns the container's
    name and id. `args` are docker run's options, then the image and command."""
    container = f"{network}-{host}"
    started = docker(
        "run", "-d", "--name", container, "--label", f"{LABEL}={network}",
        "--hostname", host, "--network", network, "--network-alias", host, *args,
    )  # fmt: skip
    return container, started.stdout.strip()


@contextlib.contextmanager
def hosts(
    image: str,
    roots: Sequence[Path],
    docker_args: Sequence[str] = (),
    prefix: str = "sagemaker-rl",
    start_order: Sequence[str] | None = None,
) -> Iterator[Job]:
    """A container per host running `train`, SageMaker local-mode style; removed afterwards.
    `start_order` names the hosts in the order to start them (default: as given)."""
    by_name = {host_name(Path(root)): Path(root).resolve() for root in roots}
    with network(prefix) as name:
        job = Job(name)
        job.started = time.monotonic()
        try:
            for host in start_order or list(by_name):
                root = by_name[host]
                container, container_id = run_on(
                    name, host, "--shm-size", "512m", "-v", f"{root}:/opt/ml",
                    *docker_args, image, "train",
                )  # fmt: skip
                job.hosts[host] = Host(host, container, root, container_id)
            yield job
        finally:
            job.save_logs()


def remove_compose_containers(under: Path) -> list[str]:
    """Containers docker-compose started from a directory under `under`, removed; returns
    their names. SageMaker local mode leaves a job's containers behind once it ends."""
    listed = docker(
        "ps", "-a", "--format",
        '{{.ID}} {{.Names}} {{.Label "com.docker.compose.project.working_dir"}}',
        check=False,
    ).stdout  # fmt: skip
    prefix = str(Path(under).resolve())
    found = [line.split(" ", 2) for line in listed.splitlines() if line.count(" ") >= 2]
    chosen = [(cid, name) for cid, name, where in found if where.startswith(prefix)]
    if chosen:
        docker("rm", "-f", *(cid for cid, _ in chosen), check=False, timeout=60)
    return [name for _, name in chosen]
