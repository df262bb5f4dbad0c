"""Shared helpers: lay out SageMaker-style job directories and run `sagemaker-rl train` on them.

Training tests run the real CLI in a subprocess with `SAGEMAKER_BASE_DIR` standing in for
/opt/ml, exactly as the image runs it (minus Docker); image tests run it in `docker run`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from sagemaker_rl_container.metrics import parse_log

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SAGEMAKER_RL = BIN / "sagemaker-rl"

# In-process contract tests read this tree; sagemaker-training fixes its paths at import time.
_SESSION_BASE = Path(os.environ.setdefault("SAGEMAKER_BASE_DIR", "/tmp/sagemaker-rl-tests-opt-ml"))

# tools/: local_job.py (an /opt/ml for a run) and containers.py (docker, multi-host jobs), shared
# with bench/ and examples/.
sys.path.insert(0, str(ROOT / "tools"))
import containers  # noqa: E402
import local_job  # noqa: E402

# Small, fast PPO settings for CartPole used by tests that only need *some* training.
QUICK_PPO = {
    "rl.training.train_batch_size_per_learner": "500",
    "rl.training.minibatch_size": "250",
    "rl.training.num_epochs": "2",
    "rl.env_runners.num_env_runners": "0",
}


def make_job(
    root: Path,
    hyperparameters: dict[str, str] | None = None,
    source_dir: Path | None = None,
    program: str | None = None,
    channels: dict[str, Path] | None = None,
    host: str = "algo-1",
    hosts: list[str] | None = None,
) -> Path:
    """An /opt/ml-shaped directory; existing checkpoints there are kept (like a restarted job).
    `host`/`hosts` write resourceconfig.json for one host of a multi-host job. Values are
    read as on local_job.py's command line ("500" is the number 500, "PPO" a string)."""
    values = {key: local_job.decode(str(value)) for key, value in (hyperparameters or {}).items()}
    return local_job.lay_out(
        root, values, source_dir, program, channels, host=host, hosts=hosts or ()
    )


@dataclass
class JobResult:
    returncode: int
    log: str
    root: Path

    @property
    def failure(self) -> str | None:
        path = self.root / "output" / "failure"
        return path.read_text() if path.exists() else None

    @property
    def succeeded(self) -> bool:
        return (self.root / "output" / "success").exists()

    def metric_lines(self) -> list[dict[str, str]]:
        """Every `[rl-metrics]` line of the log, its values as written ("7", "nan")."""
        return parse_log(self.log, raw=True)


def job_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SM_", "RAY_ADDRESS"))}
    env["SAGEMAKER_BASE_DIR"] = str(root)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def run_train(root: Path, timeout: float = 300, env: dict[str, str] | None = None) -> JobResult:
    proc = subprocess.run(
        [str(SAGEMAKER_RL), "train"],
        env={**job_env(root), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return JobResult(proc.returncode, proc.stdout, root)


def start_train(root: Path, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed by the caller through the process
    return subprocess.Popen(
        [str(SAGEMAKER_RL), "train"],
        env=job_env(root),
        stdout=log,
        stderr=subprocess.STDOUT,
        preexec_fn=_sigint_as_in_a_container,
    )


def _sigint_as_in_a_container() -> None:
    """SIGINT's default disposition, as a job in a container has it: a suite started in the
    background by a non-interactive shell (`make test &`, a CI runner) inherits SIGINT
    ignored, and the job would never see the SIGINT a test sends it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_line(log_path: Path, needle: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in log_path.read_text():
            return
        if proc.poll() is not None:
            pytest.fail(
                f"job exited ({proc.returncode}) before logging {needle!r}:\n"
                + log_path.read_text()[-3000:]
            )
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    pytest.fail(f"no {needle!r} in the log after {timeout} s")


# ---- script mode: a requirements.txt that needs no index --------------------------------------

REQUIREMENT = "sm_test_requirement"


def build_wheel(directory: Path) -> str:
    """A tiny pure-Python wheel, made here so that the test needs no index."""
    files = {
        f"{REQUIREMENT}/__init__.py": 'GREETING = "installed from requirements.txt"\n',
        f"{REQUIREMENT}-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: sm-test-requirement\nVersion: 1.0\n",
        f"{REQUIREMENT}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{REQUIREMENT}-1.0.dist-info/RECORD,,")
    files[f"{REQUIREMENT}-1.0.dist-info/RECORD"] = "\n".join(record) + "\n"
    name = f"{REQUIREMENT}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(directory / name, "w") as wheel:
        for path, text in files.items():
            wheel.writestr(path, text)
    return name


def sigterm_once_logged(root: Path, log_path: Path, needle: str) -> str:
    """Start `train` on `root`, send SIGTERM once `needle` is logged, check it exits 143 within
    30 s (SageMaker allows 120) and return its one-line failure."""
    proc = start_train(root, log_path)
    wait_for_line(log_path, needle, proc, timeout=180)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    returncode = proc.wait(timeout=60)
    assert time.monotonic() - sent < 30
    assert returncode == 128 + signal.SIGTERM, log_path.read_text()[-2000:]
    return (root / "output" / "failure").read_text()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text())


def assert_same_policy_outputs(actions, logits, expected_logits) -> None:
    """The exported policy's logits and greedy actions are the trained module's.

    ONNX Runtime and torch sum a layer's products in different orders; on float32 that moves a
    logit by up to a few 1e-5 relative (measured 3.8e-5 on a 256x256 CartPole net), so the
    logits compare with a relative tolerance, and actions only where the top two logits are
    further apart than that noise."""
    import numpy as np

    logits = np.asarray(logits, np.float32)
    expected_logits = np.asarray(expected_logits, np.float32)
    np.testing.assert_allclose(logits, expected_logits, rtol=2e-4, atol=2e-5)
    top_two = np.sort(expected_logits, axis=1)[:, -2:]
    clear = (top_two[:, 1] - top_two[:, 0]) > 1e-3 * np.maximum(1.0, np.abs(top_two[:, 1]))
    assert clear.mean() > 0.9, "too few observations with a clear greedy action to compare"
    np.testing.assert_array_equal(np.asarray(actions)[clear], expected_logits.argmax(axis=1)[clear])


def greedy_onnx_return(model: Path, env, episodes: int = 20) -> float:
    """Mean return of model/policy.onnx acting greedily on `env`'s own observations, over
    `episodes` fresh episodes (seeds 1000 on) of a discrete-action env."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    returns = []
    for seed in range(episodes):
        observation, _ = env.reset(seed=1000 + seed)
        total, done = 0.0, False
        while not done:
            batch = np.asarray(observation, np.float32)[None]
            (action,) = session.run(["actions"], {"observations": batch})[0]
            observation, reward, terminated, truncated, _ = env.step(int(action))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


@pytest.fixture
def session_base() -> Path:
    return _SESSION_BASE


@pytest.fixture(scope="session")
def cartpole_model(tmp_path_factory) -> Path:
    """A job directory whose model/ holds a (briefly) trained CartPole PPO policy."""
    root = make_job(
        tmp_path_factory.mktemp("cartpole-model"), {**QUICK_PPO, "rl_stop_iterations": "2"}
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    return root


# ---- Docker: the images of the matrix, built from a stand-in base ----------------------------

DOCKER = containers.DOCKER
STAND_IN_BASE = "local/stand-in-python:3.11-bookworm"


def matrix_get(name: str, field: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "matrix.py"), "get", name, field],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


docker = containers.docker


def build_image(name: str) -> str:
    """Build an image of the matrix from the stand-in base (the row's Python and Debian
    release), as `make build` does."""
    stand_in = matrix_get(name, "stand_in_base")
    subprocess.run(
        [str(ROOT / "tools" / "stand-in-base.sh"), stand_in, matrix_get(name, "debian_suite")],
        check=True,
        timeout=600,
    )
    build = subprocess.run(
        ["make", "-C", str(ROOT), "build", f"IMAGE={name}", f"BASE_IMAGE={stand_in}"],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    return next(
        line.split()[2] for line in build.stdout.splitlines() if line.startswith("== built ")
    )


@pytest.fixture(scope="session")
def image() -> str:
    return build_image("ray-pytorch-cpu")


@pytest.fixture(scope="session")
def serve_image() -> str:
    """The serve-only image for ONNX policies (every Ray image's export)."""
    return build_image("serve-onnx-cpu")


def run_job(image: str, root: Path, *extra: str, timeout: float = 300) -> JobResult:
    proc = subprocess.run(
        [
            DOCKER,
            "run",
            "--rm",
            "--hostname",
            "algo-1",
            "-v",
            f"{root}:/opt/ml",
            *extra,
            image,
            "train",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    return JobResult(proc.returncode, proc.stdout, root)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving_container(
    image: str,
    model_dir: Path,
    timeout: float = 90,
    expect_ping: int = 200,
    docker_args: tuple[str, ...] = (),
    container_port: int = 8080,
):
    """`docker run IMAGE serve` with `model_dir` as /opt/ml/model; yields its base URL once
    /ping answers `expect_ping` (200; 503 for a model the server says it cannot serve).
    `docker_args` go to `docker run` (--read-only, --memory, -e ...)."""
    import urllib.error
    import urllib.request

    port = free_port()
    name = containers.unique_name(f"sagemaker-rl-test-serve-{port}")
    docker(
        "run",
        "-d",
        "--name",
        name,
        "-p",
        f"127.0.0.1:{port}:{container_port}",
        "-v",
        f"{model_dir}:/opt/ml/model:ro",
        *docker_args,
        image,
        "serve",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/ping", timeout=2) as response:
                    assert response.status == expect_ping
                    break
            except urllib.error.HTTPError as error:
                assert error.code == expect_ping, error
                break
            except OSError:
                if time.monotonic() > deadline:
                    logs = docker("logs", name, check=False)
                    pytest.fail(f"serve did not answer /ping: {logs.stdout}{logs.stderr}"[-3000:])
                time.sleep(0.5)
        yield url
    finally:
        docker("rm", "-f", name, check=False)


def post_json(url: str, payload: object, timeout: float = 10) -> dict:
    import urllib.request

    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())
