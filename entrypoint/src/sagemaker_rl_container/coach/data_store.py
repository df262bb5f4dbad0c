"""The data store of distributed Coach: the head's Redis, and every record the hosts exchange
through it. Nothing between hosts needs an S3 bucket or a shared filesystem:

    experience    a list: (policy version, worker, Coach Transition or Episode), oldest first
    episodes      a list: each finished training episode's (worker, return, length)
    policy        the newest Coach checkpoint's files and its version
    workers       one key per rollout worker, kept alive by its heartbeat; `joined` names them
    failed:<id>   why a rollout worker stopped
    config        the head's CoachConfig: every rollout worker builds the same preset (in
                  script mode only the head runs the entry script that maps hyperparameters)
    outcome       the head's outcome, once training ended; every worker exits on it
    acknowledged  the rollout workers of other hosts that read the outcome

Coach 1.0's own Redis clients (its pub/sub memory backend, and the shared running statistics of
observation-normalization filters) connect without a password: `use_password` gives them this
job's.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container import hosts
from sagemaker_rl_container.child_processes import end_with_parent
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import UserError

logger = logging.getLogger(__name__)

REDIS_PORT = int(os.environ.get("SAGEMAKER_RL_REDIS_PORT", 6379))
# The job's environment may set a Redis password of its own; else one is derived (hosts.py).
PASSWORD_ENV = "SAGEMAKER_RL_REDIS_PASSWORD"
# A rollout worker whose heartbeat stops for this long is lost: the job fails.
WORKER_LOST_AFTER_S = float(os.environ.get("SAGEMAKER_RL_WORKER_LOST_AFTER", 10))
HEARTBEAT_S = 1.0

PREFIX = "sagemaker-rl:"
EXPERIENCE = PREFIX + "experience"
EPISODES = PREFIX + "episodes"
POLICY = PREFIX + "policy"
POLICY_VERSION = PREFIX + "policy-version"
JOINED = PREFIX + "joined"
ACKNOWLEDGED = PREFIX + "acknowledged"
CONFIG = PREFIX + "config"
OUTCOME = PREFIX + "outcome"
# Coach's own pub/sub channel name for experience (unused: the list carries it).
COACH_CHANNEL = PREFIX + "coach-experience"


def password(contract: TrainingContract) -> str:
    return os.environ.get(PASSWORD_ENV) or hosts.job_secret(contract, "sagemaker-rl coach redis")


def connect(host: str, secret: str) -> Any:
    import redis

    return redis.Redis(
        host=host,
        port=REDIS_PORT,
        password=secret,
        # Above the trainer's 1 s BLPOP; short enough that a vanished head is noticed soon.
        socket_timeout=10,
        socket_connect_timeout=5,
    )


def use_password(secret: str) -> None:
    """Coach's Redis clients call `redis.Redis(address, port)`: give them this job's password."""
    import redis
    from rl_coach.memories.backend import redis as coach_redis_backend
    from rl_coach.utilities import shared_running_stats

    class RedisWithPassword:
        """Stands in for the `redis` module inside Coach's modules."""

        def __getattr__(self, name: str) -> Any:
            return getattr(redis, name)

        @staticmethod
        def Redis(host: str = "localhost", port: int = REDIS_PORT, **kwargs: Any) -> Any:
            return redis.Redis(host, port, password=secret, **kwargs)

    coach_redis_backend.redis = RedisWithPassword()
    shared_running_stats.redis = RedisWithPassword()


def refused_password(error: BaseException) -> bool:
    import redis

    return isinstance(error, redis.exceptions.AuthenticationError)


def password_error() -> UserError:
    return UserError(
        "the head host's Redis refused this host's password: the hosts were given different "
        f"hyperparameters or {PASSWORD_ENV} values"
    )


class RedisServer:
    """`redis-server` for this job, on the head's address with the job's password. It ends
    with the head's process, not before: the worker hosts read the outcome from it until then
    (SageMaker local mode stops every container once one exits)."""

    def __init__(self, ip: str, secret: str, directory: Path, log_path: Path) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise UserError(
                "distributed Coach needs redis-server, which this image lacks: use the "
                "project's Coach images (or install redis-server), or set instance_count=1"
            )
        directory.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        conf = directory / "redis.conf"
        # The password stays out of the process list; the file is the job's own.
        conf.touch(mode=0o600)
        conf.write_text(
            "\n".join(
                [
                    f"bind {ip}",
                    f"port {REDIS_PORT}",
                    f"requirepass {secret}",
                    'save ""',
                    "appendonly no",
                    f"dir {directory}",
                    f"logfile {log_path}",
                    # Experience waits here only until the trainer takes it.
                    "maxmemory-policy noeviction",
                ]
            )
            + "\n"
        )
        self.process = subprocess.Popen(
            [server, str(conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            preexec_fn=end_with_parent,
        )
        self.connection = connect(ip, secret)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.connection.ping()
                break
            except Exception as error:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise UserError(
                        f"redis-server did not start on {ip}:{REDIS_PORT} ({error}; exit status "
                        f"{self.process.poll()}): see {log_path}"
                    ) from None
                time.sleep(0.05)
        logger.info("Redis for distributed Coach on %s:%d (password protected)", ip, REDIS_PORT)

    def alive(self) -> bool:
        return self.process.poll() is None


# ---- the job's config and outcome -----------------------------------------------------------


def write_config(connection: Any, config: CoachConfig) -> None:
    connection.set(CONFIG, pickle.dumps(config))


def read_config(connection: Any) -> Optional[CoachConfig]:
    raw = connection.get(CONFIG)
    return pickle.loads(raw) if raw is not None else None


def publish_outcome(connection: Any, outcome: dict) -> None:
    connection.set(OUTCOME, json.dumps(outcome))


def read_outcome(connection: Any) -> Optional[dict]:
    raw = connection.get(OUTCOME)
    return json.loads(raw) if raw is not None else None


def acknowledge(connection: Any, workers: list[str]) -> None:
    if workers:
        connection.sadd(ACKNOWLEDGED, *workers)


def acknowledged(connection: Any) -> int:
    return int(connection.scard(ACKNOWLEDGED))


# ---- experience and episodes ---------------------------------------------------------------


def experience_backend(connection: Any, worker: str, version: Any) -> Any:
    """A Coach memory backend for a rollout worker's memory: whatever the memory stores (a
    Transition, or a whole Episode for episodic memories) is queued for the trainer, tagged
    with this worker and the policy version it was played with (`version()`)."""
    from rl_coach.memories.backend.memory import MemoryBackend

    class ExperienceQueue(MemoryBackend):
        def __init__(self) -> None:
            pass

        def store(self, obj: Any) -> None:
            # Coach's memories call this for transitions and for whole episodes alike.
            item = pickle.dumps((version(), worker, obj), pickle.HIGHEST_PROTOCOL)
            connection.rpush(EXPERIENCE, item)

    return ExperienceQueue()


def report_episode(connection: Any, worker: str, total_reward: float, length: int) -> None:
    connection.rpush(EPISODES, json.dumps([worker, float(total_reward), int(length)]))


def take_episodes(connection: Any) -> list[tuple[str, float, int]]:
    pipe = connection.pipeline(transaction=True)
    pipe.lrange(EPISODES, 0, -1)
    pipe.delete(EPISODES)
    raw, _ = pipe.execute()
    return [tuple(json.loads(item)) for item in raw]  # type: ignore[misc]


# ---- policies --------------------------------------------------------------------------------


def publish_policy(connection: Any, name: str, files: list[Path], version: int) -> None:
    """Coach checkpoint `name`'s files (CoachTrainer.save_coach_checkpoint) as policy
    `version`."""
    contents = {path.name: path.read_bytes() for path in files}
    pipe = connection.pipeline(transaction=True)
    pipe.set(POLICY, pickle.dumps({"version": version, "name": name, "files": contents}))
    pipe.set(POLICY_VERSION, version)
    pipe.execute()


def policy_version(connection: Any) -> int:
    value = connection.get(POLICY_VERSION)
    return int(value) if value is not None else 0


def fetch_policy(connection: Any, directory: Path) -> int:
    """The newest policy's files into `directory` (emptied first); returns its version."""
    policy = pickle.loads(connection.get(POLICY))
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for name, data in policy["files"].items():
        (directory / name).write_bytes(data)
    return int(policy["version"])


# ---- rollout workers: joining, heartbeats, failures ----------------------------------------


class Heartbeat:
    """Keeps this rollout worker's key alive while the process runs."""

    def __init__(self, connection: Any, worker: str) -> None:
        self.connection = connection
        self.worker = worker
        self.stopped = threading.Event()
        self.beat()
        connection.sadd(JOINED, worker)
        threading.Thread(target=self._run, daemon=True, name="heartbeat").start()

    def beat(self) -> None:
        self.connection.set(
            PREFIX + f"worker:{self.worker}", os.getpid(), px=int(WORKER_LOST_AFTER_S * 1000)
        )

    def _run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                self.beat()
            except Exception:  # the head is gone or restarting: the main loop decides
                continue

    def stop(self) -> None:
        self.stopped.set()


def report_failure(connection: Any, worker: str, reason: str) -> None:
    connection.set(PREFIX + f"failed:{worker}", reason)


def failure(connection: Any, worker: str) -> Optional[str]:
    """Why `worker` stopped, as it reported it, or None."""
    raw = connection.get(PREFIX + f"failed:{worker}")
    return raw.decode() if raw is not None else None


def lost_workers(connection: Any) -> list[str]:
    """Rollout workers that joined and then failed or stopped beating, with why."""
    lost = []
    for raw in sorted(connection.smembers(JOINED)):
        worker = raw.decode()
        failed = failure(connection, worker)
        if failed is not None:
            lost.append(f"rollout worker {worker} failed: {failed}")
        elif not connection.exists(PREFIX + f"worker:{worker}"):
            lost.append(
                f"rollout worker {worker} stopped (no heartbeat for {WORKER_LOST_AFTER_S:g} s: "
                f"its host or process died)"
            )
    return lost


def joined(connection: Any) -> set[str]:
    return {raw.decode() for raw in connection.smembers(JOINED)}
