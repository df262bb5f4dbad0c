"""Run an example's jobs locally in Docker, the way SageMaker runs them.

Every example's `run.py` uses this: it lays out an /opt/ml directory (tools/local_job.py), runs
`docker run IMAGE train` on it, and checks what the example promises. On SageMaker the same
hyperparameters and source directory go to an `Estimator` instead (see examples/README.md).

    python3 examples/<name>/run.py [--image REF] [--work-dir DIR] [--short]

`--short` runs a few iterations only (the test suite does); without it the example runs to its
goal and exits non-zero when it misses it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# tools/: local_job.py (an /opt/ml for a run), containers.py (docker, multi-host jobs) and
# matrix.py (the images and their tags).
sys.path.insert(0, str(ROOT / "tools"))
import containers  # noqa: E402
import local_job  # noqa: E402
import matrix  # noqa: E402

# The package's metrics module writes the `[rl-metrics]` lines and parses them. The examples run
# on a plain python3 without the package installed: it comes from the checkout, as the image's
# does (it needs only the standard library; tests/unit/test_metrics.py checks).
sys.path.insert(0, str(ROOT / "entrypoint" / "src"))
from sagemaker_rl_container import metrics as rl_metrics  # noqa: E402

# One log line's `[rl-metrics]` values, None for any other line (for `train(on_line=...)`).
parse_line = rl_metrics.parse_line


def _image(name: str) -> str:
    """The image `make build IMAGE=name` tags, by its moving tag (e.g. ray-torch-cpu)."""
    return f"{matrix.REPOSITORY}:{matrix.tags(matrix.load()[name])[-1]}"


DEFAULT_IMAGE = _image("ray-pytorch-cpu")
# The RL Coach examples (examples/coach-*) run in the Coach TensorFlow image.
COACH_IMAGE = _image("coach-tensorflow-cpu")

DOCKER = containers.DOCKER


@dataclass
class Job:
    """One finished `train` run: its exit code, log and /opt/ml directory."""

    root: Path
    returncode: int
    log: str

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and (self.root / "output" / "success").exists()

    @property
    def failure(self) -> str | None:
        path = self.root / "output" / "failure"
        return path.read_text() if path.exists() else None

    @property
    def metrics(self) -> list[dict[str, float]]:
        """Every `[rl-metrics]` line of the log, parsed."""
        return [
            {name: float(value) for name, value in row.items()}
            for row in rl_metrics.parse_log(self.log)
        ]

    @property
    def training(self) -> dict[str, Any]:
        """The training summary the exported model carries (model/metadata.json)."""
        return json.loads((self.root / "model" / "metadata.json").read_text())["training"]


@dataclass
class Example:
    name: str
    image: str
    work_dir: Path
    short: bool
    checks: dict[str, bool] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def source_dir(self) -> Path:
        return ROOT / "examples" / self.name / "src"

    def job_dir(self, name: str = "job") -> Path:
        return self.work_dir / name

    def train(
        self,
        hyperparameters: Mapping[str, Any],
        job: str = "job",
        source_dir: Path | None = None,
        program: str | None = None,
        channels: Mapping[str, Path] | None = None,
        fresh: bool = True,
        on_line: Callable[[str], None] | None = None,
    ) -> Job:
        """Lay out /opt/ml for one job and run `train` in the image; the log streams through.
        `fresh=False` keeps the job's checkpoints (a restarted job resumes from them);
        `on_line` sees every log line as it comes (container name: `container_name(job)`)."""
        root = self.job_dir(job)
        if fresh and root.exists():
            shutil.rmtree(root)
        self.layout(root, hyperparameters, source_dir, program, channels)
        print(f"== {self.name}: training in {self.image}; /opt/ml is {root}", flush=True)
        process = subprocess.Popen(
            [
                DOCKER,
                "run",
                "--rm",
                "--name",
                self.container_name(job),
                "--hostname",
                "algo-1",
                "-v",
                f"{root.resolve()}:/opt/ml",
                self.image,
                "train",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        return self.follow(process, root, on_line)

    def container_name(self, job: str = "job") -> str:
        return f"example-{self.name}-{job}-{os.getpid()}"

    def train_cluster(
        self,
        hyperparameters: Mapping[str, Any],
        hosts: Sequence[str],
        source_dir: Path | None = None,
        timeout: float = 1800,
        program: str | None = None,
    ) -> dict[str, Job]:
        """One multi-host job, SageMaker style: a container per host on one Docker network,
        each with its own /opt/ml and a resourceconfig.json naming every host
        (tools/containers.py)."""
        roots = {host: self.job_dir(host) for host in hosts}
        for host, root in roots.items():
            if root.exists():
                shutil.rmtree(root)
            self.layout(root, hyperparameters, source_dir, program, hosts=hosts, host=host)
        print(f"== {self.name}: starting {', '.join(hosts)} in {self.image}", flush=True)
        with containers.hosts(
            self.image, list(roots.values()), prefix=f"example-{self.name}"
        ) as cluster:
            codes = cluster.wait(timeout)
            logs = cluster.logs()
        for host in hosts:
            print(f"== {host}: exit {codes[host]}; log in {roots[host] / 'train.log'}")
        return {host: Job(roots[host], codes[host], logs[host]) for host in hosts}

    def layout(
        self,
        root: Path,
        hyperparameters: Mapping[str, Any],
        source_dir: Path | None = None,
        program: str | None = None,
        channels: Mapping[str, Path] | None = None,
        hosts: Sequence[str] = (),
        host: str = "algo-1",
    ) -> None:
        local_job.lay_out(root, hyperparameters, source_dir, program, channels, host, hosts)

    @staticmethod
    def follow(
        process: subprocess.Popen, root: Path, on_line: Callable[[str], None] | None = None
    ) -> Job:
        lines = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if not os.environ.get("EXAMPLE_QUIET"):
                sys.stdout.write(line)
            if on_line is not None:
                on_line(line)
        process.wait()
        log = "".join(lines)
        (root / "train.log").write_text(log)
        return Job(root, process.returncode, log)

    def python(self, job: Job, script: str, *args: str) -> dict[str, Any]:
        """Run one of the example's scripts (from code/) in the image over a finished job's
        /opt/ml; the script prints one JSON object last."""
        completed = subprocess.run(
            [
                DOCKER,
                "run",
                "--rm",
                "-v",
                f"{job.root.resolve()}:/opt/ml",
                "--entrypoint",
                "python3",
                self.image,
                f"/opt/ml/code/{script}",
                *args,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise SystemExit(f"{script} failed:\n{completed.stdout}{completed.stderr}"[-4000:])
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def check(self, name: str, passed: bool) -> None:
        # A check repeated over several jobs passes only if it passed for each.
        self.checks[name] = self.checks.get(name, True) and bool(passed)

    def finish(self) -> int:
        """Print and save what the example showed; non-zero when a check failed."""
        result = {
            "example": self.name,
            "image": self.image,
            "short": self.short,
            "figures": self.figures,
            "checks": self.checks,
        }
        self.work_dir.mkdir(parents=True, exist_ok=True)
        (self.work_dir / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        print(f"\n== {self.name}{' (short run)' if self.short else ''}")
        for key, value in self.figures.items():
            print(f"   {key}: {value}")
        for key, passed in self.checks.items():
            print(f"   [{'ok' if passed else 'FAILED'}] {key}")
        return 0 if all(self.checks.values()) else 1


_docker = containers.docker


def stop(container: str, grace_s: int = 120) -> None:
    """`docker stop`: SIGTERM, then SIGKILL after the grace period, as SageMaker stops a job
    (a spot interruption or StopTrainingJob gives the container 120 s)."""
    _docker("stop", "-t", str(grace_s), container, timeout=grace_s + 30, check=False)


def example(name: str, description: str, default_image: str = DEFAULT_IMAGE) -> Example:
    parser = argparse.ArgumentParser(description=description)
    # EXAMPLE_IMAGE picks the Ray image; the Coach examples' is EXAMPLE_COACH_IMAGE.
    variable = "EXAMPLE_IMAGE" if default_image == DEFAULT_IMAGE else "EXAMPLE_COACH_IMAGE"
    parser.add_argument("--image", default=os.environ.get(variable, default_image))
    parser.add_argument("--work-dir", type=Path, default=ROOT / "build" / "examples" / name)
    parser.add_argument("--short", action="store_true", help="a few iterations only (tests)")
    args = parser.parse_args()
    return Example(name, args.image, args.work_dir.resolve(), args.short)


def outputs_check(example: Example, job: Job) -> None:
    """What every job leaves: a servable model, a training curve and TensorBoard logs."""
    example.check("job succeeded", job.succeeded)
    example.check("model exported", (job.root / "model" / "metadata.json").exists())
    example.check(
        "training curve PNG", (job.root / "output" / "data" / "training_curve.png").exists()
    )
    example.check(
        "TensorBoard logs",
        any((job.root / "output" / "tensorboard").glob("events.out.tfevents.*")),
    )
