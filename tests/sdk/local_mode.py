"""The SageMaker Python SDK's local mode, as a user runs it, for the tests in this folder.

Each test writes the code a user would write (or takes it from the README), and runs it with
the SDK installed in its own virtualenv (build/sdk/<version>, from requirements-sdk-*.lock.txt),
against this repository's Docker engine, with Debian's docker-compose (which local mode drives), offline:
placeholder credentials, a region, and the SDK's telemetry turned off.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# One virtualenv per SDK major version, each pinned by its requirements file here.
SDK_VENVS = ROOT / "build" / "sdk"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"  # local mode never assumes it
# What separates a line's text from the host name docker-compose puts in front of it.
COMPOSE_PREFIX = re.compile(r"^(?:\x1b\[[0-9;]*m)?(\S+) +\|(?:\x1b\[0m)? ?")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sdk_python(version: str) -> Path:
    """The Python of the SDK `version` ("v2", "v3") virtualenv, created on first use from its
    lock (requirements-sdk-<version>.lock.txt, every package pinned)."""
    lock = Path(__file__).with_name(f"requirements-sdk-{version}.lock.txt")
    venv = SDK_VENVS / version
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if not stamp.exists() or stamp.read_text() != lock.read_text():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip_install = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run(
            [*pip_install, "--no-deps", "--no-compile", "-r", str(lock)],
            check=True,
            timeout=900,
        )
        stamp.write_text(lock.read_text())
    return python


def ensure_docker_compose() -> None:
    """Local mode runs `docker-compose`: install Debian's where it is missing (as root)."""
    if shutil.which("docker-compose"):
        return
    if os.geteuid() != 0:
        pytest.fail("SageMaker local mode needs docker-compose: apt-get install docker-compose")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "docker-compose"], check=True, env=env, timeout=600
    )


def docker_host() -> str | None:
    """The engine the repository's tools/docker uses (the caller's, else its own)."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    answers = subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0
    if answers:
        return None
    started = subprocess.run(
        [str(ROOT / "tools" / "local-docker.sh"), "start"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return started.stdout.strip()


@dataclass
class LocalRun:
    returncode: int
    output: str  # everything the user's code printed, with the containers' logs
    result: dict  # what the user's code reported with `report(...)`

    def container_lines(self, keep_ansi: bool = False) -> list[str]:
        """The containers' log lines as SageMaker would show them: without compose's
        host-name column (and, unless `keep_ansi`, without any colour codes)."""
        lines = []
        for line in self.output.splitlines():
            match = COMPOSE_PREFIX.match(line)
            if match and "algo-" in match.group(1):
                text = line[match.end() :]
                if text.startswith("\x1b[0m"):  # compose's reset after its column
                    text = text[len("\x1b[0m") :]
                lines.append(text if keep_ansi else ANSI.sub("", text))
        return lines

    def hosts(self) -> list[str]:
        """The local-mode host names (algo-1-xxxxx) that logged."""
        names = set()
        for line in self.output.splitlines():
            match = COMPOSE_PREFIX.match(line)
            if match and "algo-" in match.group(1):
                names.add(match.group(1).split("-", 1)[1])
        return sorted(names)


PRELUDE = """\
import json, os, sys
IMAGE_URI = {image!r}
ROLE = {role!r}
CONTAINERS = {containers!r}
def report(**values):
    print("SDK-TEST-RESULT " + json.dumps(values, default=str), flush=True)
"""


def run_local(
    user_code: str, image: str, workdir: Path, timeout: float = 900, sdk: str = "v2"
) -> LocalRun:
    """Run `user_code` (a user's script) with the SDK `sdk` in local mode from `workdir`;
    CONTAINERS in it names the directory local mode works in."""
    workdir.mkdir(parents=True, exist_ok=True)
    home = workdir / "home"
    (home / ".sagemaker").mkdir(parents=True, exist_ok=True)
    containers = workdir / "containers"
    containers.mkdir(exist_ok=True)
    # The SDK's own configuration file: local code (no S3 for the source directory or the
    # outputs), its working directories under this test's.
    (home / ".sagemaker" / "config.yaml").write_text(
        f"local:\n  local_code: true\n  container_root: {containers}\n"
    )
    sdk_config = workdir / "sdk-defaults.yaml"
    sdk_config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n"
        "      TelemetryOptOut: true\n"
    )
    script = workdir / "user_code.py"
    script.write_text(
        PRELUDE.format(image=image, role=ROLE, containers=str(containers))
        + textwrap.dedent(user_code)
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SM_", "SAGEMAKER_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(
        HOME=str(home),
        AWS_ACCESS_KEY_ID="placeholder",
        AWS_SECRET_ACCESS_KEY="placeholder",
        AWS_DEFAULT_REGION="us-west-2",
        SAGEMAKER_USER_CONFIG_OVERRIDE=str(sdk_config),
        SAGEMAKER_SUPPRESS_V2_WARNING="1",
    )
    host = docker_host()
    if host:
        env["DOCKER_HOST"] = host
    ensure_docker_compose()
    proc = subprocess.run(
        [str(sdk_python(sdk)), str(script)],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    result: dict = {}
    for line in proc.stdout.splitlines():
        if line.startswith("SDK-TEST-RESULT "):
            result.update(json.loads(line[len("SDK-TEST-RESULT ") :]))
    return LocalRun(proc.returncode, proc.stdout, result)


def container_exit_codes(run: LocalRun) -> dict[str, int]:
    """Exit codes of the containers that ran the job's hosts (local mode leaves them)."""
    codes = {}
    for host in run.hosts():
        listed = subprocess.run(
            [
                str(ROOT / "tools" / "docker"),
                "ps",
                "-a",
                "--filter",
                f"name={host}",
                "--format",
                "{{.Names}} {{.Status}}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for line in listed.splitlines():
            name, _, status = line.partition(" ")
            match = re.search(r"Exited \((-?\d+)\)", status)
            if name.endswith(host) and match:
                codes[host] = int(match.group(1))
    return codes
