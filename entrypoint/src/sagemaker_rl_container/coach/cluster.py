"""Distributed Coach across a job's hosts (Coach's `--distributed_coach`, on SageMaker's hosts).

    head host     redis-server (this job's password, bound to the job's network), Coach's
                  training worker (coach/distributed_trainer.py, on the job lifecycle), and
                  rollout workers
    other hosts   rollout workers (coach/rollout.py), watched by the host's `train` process

Rollout workers play episodes with the newest policy and send them to the trainer; the trainer
trains and publishes a new policy. Everything between hosts goes through the head's Redis, so
no S3 bucket or shared filesystem is assumed:

    experience    a list: (policy version, worker, Coach Transition or Episode), oldest first
    episodes      a list: each finished training episode's (worker, return, length)
    policy        the newest Coach checkpoint's files and its version
    workers       one key per rollout worker, kept alive by its heartbeat; `joined` names them
    failed:<id>   why a rollout worker stopped
    config        the head's CoachConfig: every rollout worker builds the same preset (in
                  script mode only the head runs the entry script that maps hyperparameters)
    outcome       the head's outcome, once training ended; every worker exits on it

Coach 1.0's own Redis clients (its pub/sub memory backend, and the shared running statistics of
observation-normalization filters) connect without a password: `use_password` gives them this
job's. Its pub/sub drops what is published while the trainer trains; the experience list keeps
it, and a SYNC (on-policy) trainer discards what an older policy played.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

from sagemaker_rl_container import hosts, signals
from sagemaker_rl_container.child_processes import end_with_parent
from sagemaker_rl_container.coach.config import CoachConfig
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import TrainingInterrupted, UserError

logger = logging.getLogger(__name__)

REDIS_PORT = int(os.environ.get("SAGEMAKER_RL_REDIS_PORT", 6379))
# The job's environment may set a Redis password of its own; else one is derived (hosts.py).
PASSWORD_ENV = "SAGEMAKER_RL_REDIS_PASSWORD"
# A rollout worker whose heartbeat stops for this long is lost: the job fails.
WORKER_LOST_AFTER_S = float(os.environ.get("SAGEMAKER_RL_WORKER_LOST_AFTER", 10))
HEARTBEAT_S = 1.0
# A worker host that cannot reach the head's Redis for this long fails (as on Ray hosts).
HEAD_LOST_AFTER_S = float(os.environ.get("SAGEMAKER_RL_HEAD_LOST_AFTER", 30))
# After the outcome, how long a worker host waits for the head's process to end.
HEAD_EXIT_WAIT_S = float(os.environ.get("SAGEMAKER_RL_HEAD_EXIT_WAIT", "120"))
# ASYNC (off-policy) trainers: publish the policy at most this often.
POLICY_EVERY_S = float(os.environ.get("SAGEMAKER_RL_POLICY_EVERY", 2))

# Given to each rollout worker process by its host.
ROLLOUT_ENV = "SAGEMAKER_RL_COACH_ROLLOUT"  # "<host>/<index>"
HEAD_ENV = "SAGEMAKER_RL_COACH_HEAD"  # the head host's name

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

# Agents distributed Coach runs without the preset naming a synchronization type: on-policy
# ones wait for each new policy (SYNC), off-policy ones keep playing (ASYNC). Coach's own
# distributed presets set the type themselves (CartPole_ClippedPPO: SYNC).
DEFAULT_SYNCHRONIZATION = {
    "ClippedPPOAgentParameters": "SYNC",
    "PPOAgentParameters": "SYNC",
    "DQNAgentParameters": "ASYNC",
    "DDQNAgentParameters": "ASYNC",
    "QuantileRegressionDQNAgentParameters": "ASYNC",
    "RainbowDQNAgentParameters": "ASYNC",
    "DDPGAgentParameters": "ASYNC",
    "TD3AgentParameters": "ASYNC",
    "SoftActorCriticAgentParameters": "ASYNC",
}


def worker_ids(nodes: hosts.Layout, per_host: int) -> list[str]:
    """Every rollout worker of the job, head's first: `<host>/<index>`."""
    ordered = [nodes.head, *nodes.workers]
    return [f"{host}/{index}" for host in ordered for index in range(per_host)]


def read_config(connection: Any) -> Optional[CoachConfig]:
    raw = connection.get(CONFIG)
    return pickle.loads(raw) if raw is not None else None


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


# ---- what a preset needs to run distributed --------------------------------------------------


def synchronization(graph_manager: Any, preset: str) -> Any:
    """The preset's `DistributedCoachSynchronizationType`, or the default for its agent; one
    line naming why when the preset cannot run distributed."""
    from rl_coach.base_parameters import DistributedCoachSynchronizationType

    agents_params = getattr(graph_manager, "agents_params", None)
    if agents_params is not None and len(agents_params) != 1:
        raise UserError(
            f"preset {preset}: distributed Coach trains one agent, this preset's graph has "
            f"{len(agents_params)} (hierarchical presets train on one host: set "
            f"instance_count=1)"
        )
    if getattr(graph_manager, "env_params", None) is None:
        raise UserError(
            f"preset {preset}: batch RL trains from a dataset, with no environment for rollout "
            f"workers to play: train it on one host (instance_count=1)"
        )
    agent_params = graph_manager.agent_params
    chosen = agent_params.algorithm.distributed_coach_synchronization_type
    if chosen is not None:
        return chosen
    kind = type(agent_params).__name__
    default = DEFAULT_SYNCHRONIZATION.get(kind)
    if default is None:
        supported = ", ".join(k.replace("Parameters", "") for k in DEFAULT_SYNCHRONIZATION)
        raise UserError(
            f"preset {preset}: {kind.replace('Parameters', '')} has no distributed Coach "
            f"synchronization type (distributed here: {supported}); set "
            f"agent_params.algorithm.distributed_coach_synchronization_type in the preset if "
            f"it can run distributed, or train on one host (instance_count=1)"
        )
    logger.info(
        "Distributed Coach: %s rollouts are %s (the preset sets no synchronization type)",
        kind.replace("AgentParameters", ""),
        default,
    )
    return DistributedCoachSynchronizationType[default]


def configure(graph_manager: Any, run_type: str, head_ip: str, sync: Any) -> None:
    """Coach's distributed settings on the preset, before its graph is created: its memory
    backend names the head's Redis (observation-normalization statistics are shared through
    it), and a data store of the preset (S3, NFS) gives way to the job's Redis."""
    from rl_coach.memories.backend.redis import RedisPubSubMemoryBackendParameters

    params = RedisPubSubMemoryBackendParameters(
        redis_address=head_ip,
        redis_port=REDIS_PORT,
        channel=COACH_CHANNEL,
        run_type=run_type,
        deployed=True,
    )
    agent_params = graph_manager.agent_params
    if hasattr(agent_params.memory, "memory_backend_params"):
        logger.info("The preset's memory backend gives way to this job's Redis on the head")
        agent_params.memory.memory_backend_params = params
    else:
        agent_params.memory.register_var("memory_backend_params", params)
    agent_params.algorithm.distributed_coach_synchronization_type = sync
    if hasattr(graph_manager, "data_store_params"):
        logger.info(
            "The preset's data store (%s) gives way to this job's Redis: policies reach the "
            "rollout workers over the job's network",
            type(graph_manager.data_store_params).__name__,
        )
        del graph_manager.data_store_params
    graph_manager.data_store = None


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


def lost_workers(connection: Any) -> list[str]:
    """Rollout workers that joined and then failed or stopped beating, with why."""
    lost = []
    for raw in sorted(connection.smembers(JOINED)):
        worker = raw.decode()
        failed = connection.get(PREFIX + f"failed:{worker}")
        if failed is not None:
            lost.append(f"rollout worker {worker} failed: {failed.decode()}")
        elif not connection.exists(PREFIX + f"worker:{worker}"):
            lost.append(
                f"rollout worker {worker} stopped (no heartbeat for {WORKER_LOST_AFTER_S:g} s: "
                f"its host or process died)"
            )
    return lost


def joined(connection: Any) -> set[str]:
    return {raw.decode() for raw in connection.smembers(JOINED)}


def read_outcome(connection: Any) -> Optional[dict]:
    raw = connection.get(OUTCOME)
    return json.loads(raw) if raw is not None else None


def spawn_rollout_workers(ids: list[str], head: str) -> list[tuple[str, subprocess.Popen]]:
    """This host's rollout worker processes (coach/rollout.py)."""
    started = []
    for worker in ids:
        env = {**os.environ, ROLLOUT_ENV: worker, HEAD_ENV: head}
        process = subprocess.Popen(
            [sys.executable, "-m", "sagemaker_rl_container.coach.rollout"],
            env=env,
            # Its own session: a SIGTERM for this host's `train` reaches it through the
            # outcome (or its parent's exit), after the head checkpointed.
            start_new_session=True,
            preexec_fn=end_with_parent,
        )
        started.append((worker, process))
    logger.info("Rollout workers started on this host: %s", ", ".join(ids))
    return started


def stop_processes(processes: list[tuple[str, subprocess.Popen]], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    for _, process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


# ---- the head's Redis server ---------------------------------------------------------------


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


# ---- a host that only plays: its `train` process -------------------------------------------


def rollout_host_settings(contract: TrainingContract) -> tuple[hosts.Layout, float]:
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


def run_worker_host(contract: TrainingContract, nodes: hosts.Layout, timeout_s: float) -> None:
    """Start this host's rollout workers once the head's Redis answers with the job's config;
    stay until the head reports the outcome (exit 0 on success) or is lost (fail)."""
    deadline = time.monotonic() + timeout_s
    head_ip = hosts.resolve(nodes.head, deadline, "head")
    connection = connect(head_ip, password(contract))
    logger.info("Waiting for the Coach trainer's Redis on %s (%s)", nodes.head, head_ip)
    config = None
    while config is None:
        try:
            config = read_config(connection)
            outcome = read_outcome(connection)
        except Exception as error:
            if _refused_password(error):
                raise _password_error() from None
            config = outcome = None
        if outcome is not None and outcome.get("state") == "failed":
            raise UserError(
                f"the head host {nodes.head} failed: {outcome.get('reason', 'unknown')}"
            )
        if config is None:
            if time.monotonic() > deadline:
                raise UserError(
                    f"the head host {nodes.head} did not start the Coach trainer's Redis within "
                    f"{timeout_s:g} s (rl_cluster_timeout)"
                )
            time.sleep(0.2)
    ids = [
        w
        for w in worker_ids(nodes, config.rollout_workers_per_host)
        if w.startswith(f"{contract.current_host}/")
    ]
    signals.install()
    processes = spawn_rollout_workers(ids, nodes.head)
    try:
        outcome = _follow_head(connection, nodes.head, processes)
    finally:
        # On SIGTERM the head checkpoints: this host's rollouts stop at once.
        stop_processes(processes, wait_s=0 if signals.requested() else 30)
    if outcome.get("state") != "succeeded":
        raise UserError(f"the head host {nodes.head} failed: {outcome.get('reason', 'unknown')}")
    _wait_for_head_exit(connection)
    logger.info("The head host %s finished training; this host is done", nodes.head)


def _follow_head(connection: Any, head: str, processes: list[tuple[str, subprocess.Popen]]) -> dict:
    last_seen = time.monotonic()
    while True:
        if signals.requested():
            raise TrainingInterrupted(
                "training interrupted by SIGTERM on a rollout host: the head host saves the "
                "checkpoint"
            )
        try:
            outcome = read_outcome(connection)
            last_seen = time.monotonic()
        except Exception:
            outcome = None
            if time.monotonic() - last_seen > HEAD_LOST_AFTER_S:
                raise UserError(
                    f"lost contact with the head host {head} for {HEAD_LOST_AFTER_S:g} s: it "
                    f"stopped without reporting an outcome (see its logs)"
                ) from None
        if outcome is not None:
            # This host's rollout workers read it too and stop; then the head may exit.
            stop_processes(processes, wait_s=10)
            with contextlib.suppress(Exception):
                connection.sadd(ACKNOWLEDGED, *(worker for worker, _ in processes))
            return outcome
        for worker, process in processes:
            if process.poll() not in (None, 0):
                try:
                    reason = connection.get(PREFIX + f"failed:{worker}")
                except Exception:
                    continue  # the head is unreachable: lost contact, said above in time
                why = reason.decode() if reason else f"exit status {process.returncode}"
                raise UserError(f"rollout worker {worker} failed: {why}")
        time.sleep(HEARTBEAT_S)


def _wait_for_head_exit(connection: Any) -> None:
    """Stay until the head's process (and with it, its Redis) has ended, so that this host's
    exit never cuts the head's short."""
    deadline = time.monotonic() + HEAD_EXIT_WAIT_S
    while time.monotonic() < deadline:
        try:
            connection.ping()
        except Exception:
            return
        time.sleep(HEARTBEAT_S)


def _refused_password(error: BaseException) -> bool:
    import redis

    return isinstance(error, redis.exceptions.AuthenticationError)


def _password_error() -> UserError:
    return UserError(
        "the head host's Redis refused this host's password: the hosts were given different "
        f"hyperparameters or {PASSWORD_ENV} values"
    )


# ---- the head host ---------------------------------------------------------------------------


class Head:
    """The head host: its Redis (up first, so the other hosts learn of any failure), its own
    rollout workers, the wait for every worker to join, their health, and the outcome."""

    def __init__(self, contract: TrainingContract, config: CoachConfig, nodes: hosts.Layout):
        self.contract = contract
        self.config = config
        self.nodes = nodes
        self.started = time.monotonic()
        self.deadline = self.started + config.cluster_timeout
        self.ip = hosts.node_ip(contract, self.deadline)
        self.secret = password(contract)
        self.directory = Path(os.environ.get("TMPDIR", "/tmp")) / "sagemaker-rl-coach-head"
        self.server = RedisServer(
            self.ip,
            self.secret,
            self.directory / "redis",
            contract.output_data_dir / "redis-server.log",
        )
        self.connection = self.server.connection
        self.connection.set(CONFIG, pickle.dumps(config))
        self.workers = worker_ids(nodes, config.rollout_workers_per_host)
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start_rollouts(self) -> None:
        """This host's rollout workers, then the wait for every host's to join."""
        local = [w for w in self.workers if w.startswith(f"{self.nodes.head}/")]
        self.processes = spawn_rollout_workers(local, self.nodes.head)
        last_report = 0.0
        while True:
            present = joined(self.connection)
            problem = self.problem()
            if problem:
                raise UserError(problem)
            if present >= set(self.workers):
                break
            if time.monotonic() > self.deadline:
                missing = sorted(set(self.workers) - present)
                raise UserError(
                    f"rollout workers {', '.join(missing)} did not join within "
                    f"{self.config.cluster_timeout:g} s (rl_cluster_timeout); {len(present)} of "
                    f"{len(self.workers)} joined"
                )
            if time.monotonic() - last_report > 10:
                logger.info(
                    "Waiting for rollout workers to join: %d of %d", len(present), len(self.workers)
                )
                last_report = time.monotonic()
            time.sleep(0.2)
        logger.info(
            "Distributed Coach ready: %d rollout workers on %d hosts (%s) %.1f s after the head "
            "started",
            len(self.workers),
            len(self.contract.hosts),
            ", ".join(self.contract.hosts),
            time.monotonic() - self.started,
        )

    def problem(self) -> Optional[str]:
        """Why training cannot go on (a rollout worker lost), or None."""
        if not self.server.alive():
            return f"this job's redis-server stopped (exit status {self.server.process.poll()})"
        lost = lost_workers(self.connection)
        if lost:
            return f"{lost[0]}; a checkpoint was saved, restart the job to resume"
        for worker, process in self.processes:
            if process.poll() is not None:
                return (
                    f"rollout worker {worker} exited (status {process.returncode}); a checkpoint "
                    f"was saved, restart the job to resume"
                )
        return None

    def finish(self, error: Optional[BaseException], linger_s: float = 15) -> None:
        """Publish the outcome, stop this host's rollout workers, and give the other hosts a
        moment to read it."""
        if error is None:
            outcome = {"state": "succeeded"}
        else:
            from sagemaker_rl_container.errors import summarize

            reason = str(error) if isinstance(error, UserError) else summarize(error)
            outcome = {"state": "failed", "reason": reason}
        try:
            self.connection.set(OUTCOME, json.dumps(outcome))
        except Exception as failure:
            logger.warning("Could not publish the outcome to the rollout workers: %s", failure)
            return
        stop_processes(self.processes, wait_s=30)
        remote = [w for w in self.workers if not w.startswith(f"{self.nodes.head}/")]
        deadline = time.monotonic() + linger_s
        while time.monotonic() < deadline:
            try:
                if self.connection.scard(ACKNOWLEDGED) >= len(remote):
                    break
            except Exception:
                break
            time.sleep(0.2)
