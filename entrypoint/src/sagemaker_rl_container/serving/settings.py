"""What the server reads from its environment: the variables SageMaker sets on an endpoint or a
batch transform (and a user may set), each checked before the server starts, with defaults sized
to the container's CPUs and memory.

  SAGEMAKER_BIND_TO_PORT           the port (default 8080); SageMaker sets it where the image's
                                   accept-bind-to-port label allows
  SAGEMAKER_RL_BIND_ADDRESS        one address to listen on (default every interface)
  SAGEMAKER_MODEL_SERVER_WORKERS   gunicorn workers (default: one per usable CPU, as many as the
                                   memory holds)
  SAGEMAKER_MODEL_SERVER_THREADS   threads per worker, for keep-alive connections (default 4)
  SAGEMAKER_MODEL_SERVER_TIMEOUT   seconds one request may take before its worker is restarted
                                   (default 60, SageMaker's own invocation timeout)
  SAGEMAKER_MAX_PAYLOAD_IN_MB      the largest body, in MB (a batch transform sets its
                                   MaxPayloadInMB here); else SAGEMAKER_RL_MAX_BODY_BYTES in
                                   bytes (default 100 MB, batch transform's largest)
  SAGEMAKER_BATCH_STRATEGY         SINGLE_RECORD or MULTI_RECORD, set by a batch transform
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_PORT = 8080
DEFAULT_THREADS = 4
# SageMaker's own limit on one invocation of a real-time endpoint.
DEFAULT_TIMEOUT_S = 60
MB = 1024 * 1024
# A batch transform's largest payload (MaxPayloadInMB may be at most 100).
DEFAULT_MAX_BODY_BYTES = 100 * MB
# A real-time endpoint's largest payload, and what a batch transform asks for when the
# container does not say (GET /execution-parameters).
ENDPOINT_PAYLOAD_MB = 6
# What one worker holds resident with an ONNX policy loaded (measured: ~60 MB with onnxruntime
# and numpy), with room for requests: workers beyond memory / this are not started.
WORKER_MEMORY_BYTES = 150 * MB
BATCH_STRATEGIES = ("SINGLE_RECORD", "MULTI_RECORD")


class SettingError(ValueError):
    """An environment variable holds a value the server cannot use; the message names it."""


@dataclass(frozen=True)
class ServingSettings:
    port: int
    address: str
    workers: int
    threads: int
    timeout_s: int
    max_body_bytes: int
    batch_strategy: str | None

    @property
    def bind(self) -> str:
        return f"{self.address}:{self.port}"


def from_environment(environ: Mapping[str, str] | None = None) -> ServingSettings:
    env = os.environ if environ is None else environ
    strategy = env.get("SAGEMAKER_BATCH_STRATEGY") or None
    if strategy is not None and strategy not in BATCH_STRATEGIES:
        raise SettingError(
            f"SAGEMAKER_BATCH_STRATEGY={strategy!r} is not one of {', '.join(BATCH_STRATEGIES)}"
        )
    if env.get("SAGEMAKER_MAX_PAYLOAD_IN_MB"):
        payload_mb = _number(env, "SAGEMAKER_MAX_PAYLOAD_IN_MB", float, 0, minimum=1e-6)
        max_body = int(payload_mb * MB)
    else:
        max_body = _number(env, "SAGEMAKER_RL_MAX_BODY_BYTES", int, DEFAULT_MAX_BODY_BYTES, 1)
    return ServingSettings(
        port=_number(env, "SAGEMAKER_BIND_TO_PORT", int, DEFAULT_PORT, 1, 65535),
        address=env.get("SAGEMAKER_RL_BIND_ADDRESS") or "0.0.0.0",
        workers=_number(env, "SAGEMAKER_MODEL_SERVER_WORKERS", int, default_workers(), 1),
        threads=_number(env, "SAGEMAKER_MODEL_SERVER_THREADS", int, DEFAULT_THREADS, 1),
        timeout_s=_number(env, "SAGEMAKER_MODEL_SERVER_TIMEOUT", int, DEFAULT_TIMEOUT_S, 1),
        max_body_bytes=max_body,
        batch_strategy=strategy,
    )


def _number(
    env: Mapping[str, str],
    name: str,
    kind: type[int] | type[float],
    default: Any,
    minimum: float,
    maximum: float | None = None,
) -> Any:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = kind(raw.strip())
    except ValueError:
        what = "an integer" if kind is int else "a number"
        raise SettingError(f"{name}={raw!r} is not {what}") from None
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise SettingError(f"{name}={raw!r} must be {bounds}")
    return value


def default_workers() -> int:
    """One worker per CPU this container may use (its affinity and its cgroup's CPU quota, not
    the host's count), and no more than its memory limit holds."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    memory = _cgroup_memory_limit()
    if memory is not None:
        cpus = min(cpus, max(1, memory // WORKER_MEMORY_BYTES))
    return max(1, cpus)


def _cgroup_cpu_quota() -> float | None:
    """CPUs the cgroup may use (`docker run --cpus`, a serverless endpoint's share), or None."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]  # cgroup v2
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        base = Path("/sys/fs/cgroup/cpu")  # cgroup v1
        quota_us = int((base / "cpu.cfs_quota_us").read_text())
        return None if quota_us <= 0 else quota_us / int((base / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None


def _cgroup_memory_limit() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            raw = Path(path).read_text().strip()
        except OSError:
            continue
        if raw.isdigit() and int(raw) < 1 << 60:  # v1 reports "no limit" as a huge number
            return int(raw)
        return None
    return None
