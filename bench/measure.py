"""What the benchmarks measure with, in one place: the job they run (an /opt/ml laid out by
tools/local_job.py), where they run it (the image, this venv) and for how long, what it logged
(the package's own metric-line parser), how well its exported policy plays, and what CPU a
container used. Each benchmark file states what it measures and against what; figures.py
reports the figures."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import containers  # noqa: E402
import local_job  # noqa: E402

from sagemaker_rl_container.metrics import parse_log  # noqa: E402

DOCKER = containers.DOCKER
docker = containers.docker
VENV_BIN = Path(sys.executable).parent
PEER_PYTHON = ROOT / "build" / "bench" / "peer-venv" / "bin" / "python"

# The job the solve figures compare: PPO until the recent mean return reaches 450.
SOLVE = {"rl_algorithm": "PPO", "rl_env": "CartPole-v1", "rl_stop_mean_return": 450}
# Episodes (seeds 1000...) an exported CartPole policy plays, greedily, to check "solved".
EVAL_EPISODES = 20


# ---- the job, where it runs, how long it takes ----------------------------------------------


def layout(root: Path, hyperparameters: dict[str, Any], **kwargs: Any) -> Path:
    """A fresh /opt/ml at `root` (tools/local_job.py; values as the SDK sends them)."""
    if root.exists():
        shutil.rmtree(root)
    return local_job.lay_out(root, hyperparameters, **kwargs)


def metrics(log: str) -> list[dict[str, float]]:
    """Every `[rl-metrics]` line of the log, its values as floats."""
    return [{name: float(value) for name, value in row.items()} for row in parse_log(log)]


def in_image(image: str, root: Path, extra: tuple[str, ...] = ()) -> tuple[float, str]:
    """Seconds from `docker run` (with `extra` arguments) to the container's exit, and its log."""
    command = [DOCKER, "run", "--rm", "--hostname", "algo-1", "-v", f"{root}:/opt/ml", *extra]
    started = time.monotonic()
    proc = subprocess.run([*command, image, "train"], capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"training in {image} failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return elapsed, proc.stdout + proc.stderr


def in_venv(root: Path, until: str | None = None) -> tuple[float, str]:
    """`sagemaker-rl train` in this venv on `root`; seconds to exit (or to the first line
    containing `until`)."""
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(root))
    return timed([str(VENV_BIN / "sagemaker-rl"), "train"], env, until)


def timed(command: list[str], env: dict[str, str], until: str | None) -> tuple[float, str]:
    """Seconds `command` ran (or until its first line containing `until`), and its output."""
    started = time.monotonic()
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines = []
    elapsed = None
    for line in proc.stdout or ():
        lines.append(line)
        if until and elapsed is None and until in line:
            elapsed = time.monotonic() - started
    proc.wait()
    log = "".join(lines)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command[:2])} failed:\n{log[-3000:]}")
    return (elapsed if elapsed is not None else time.monotonic() - started), log


def peer_python(argv: list[str]) -> str:
    """The peer venv's Python: the second argument, else the one `make bench` creates."""
    python = argv[2] if len(argv) > 2 else str(PEER_PYTHON)
    if not Path(python).exists():
        sys.exit(f"{python} does not exist (make bench creates the peer venv)")
    return python


def zero_code_sections(algorithm: str = "PPO", env: str = "CartPole-v1") -> dict:
    """What `train` configures for a zero-code job of `algorithm` on `env` on this machine, as
    bench/bare_config.py takes it: the zero-code defaults and the sizing, by AlgorithmConfig
    method, each value read back from the config `train` builds."""
    from sagemaker_rl_container.config import JobConfig
    from sagemaker_rl_container.ray_rllib import algorithm_config

    job = JobConfig.from_hyperparameters({"rl_algorithm": algorithm, "rl_env": env})
    config = algorithm_config.build(
        job, algorithm_config.Resources(cpus=os.cpu_count() or 1, gpus=0), env
    )
    chosen = algorithm_config.zero_code_defaults(algorithm, config.enable_rl_module_and_learner)
    sized = {
        "env_runners": ["num_env_runners", "num_envs_per_env_runner"],
        "training": ["train_batch_size_per_learner"],
    }
    sections: dict[str, dict] = {}
    for section in dict.fromkeys([*chosen, *sized]):  # in a stable order, for the notes
        keys = [*chosen.get(section, {}), *sized.get(section, [])]
        sections[section] = {key: _plain(getattr(config, key)) for key in keys}
    return {"algorithm": algorithm, "env": env, "sections": sections}


def rllib_floor(image: str, out: Path, settings: dict, extra: tuple[str, ...] = ()) -> dict:
    """Ray's floor: bench/bare_rllib_solve.py with `settings` (zero_code_sections() and its
    stop rule) in `image`, none of our code. Its whole process's seconds, env steps, whether
    it solved, and its env steps per second of training."""
    out.mkdir(parents=True, exist_ok=True)
    command = [DOCKER, "run", "--rm", "-v", f"{ROOT / 'bench'}:/bench:ro", "-v", f"{out}:/out"]
    script = ("/bench/bare_rllib_solve.py", json.dumps(settings), "/out/checkpoint")
    started = time.monotonic()
    proc = subprocess.run(
        [*command, *extra, "--entrypoint", "python3", image, *script],
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"the bare RLlib script failed:\n{(proc.stdout + proc.stderr)[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return {
        "seconds": seconds,
        "timesteps": result["timesteps"],
        "reached": result["solved"],
        "rate": result["rate"],
        "evaluations": len(result["evaluations"]),
    }


def floor_line(pair: int, run: dict) -> str:
    """One round's floor run, as the benches print it."""
    return (
        f"  pair {pair + 1} floor: {run['seconds']:6.1f} s, {run['timesteps']:6d} env steps, "
        f"{run['rate']:5.1f} env steps/s, {run['evaluations']} stop evaluations"
        f"{'' if run['reached'] else ' (NOT solved)'}"
    )


def floor_solve_figure(
    name: str, ours_seconds: list[float], floors: list[dict], target: float | None, settings: dict
) -> Any:
    """The figure "time to solve, ours / Ray's floor" of paired runs: ours' whole-process
    seconds against rllib_floor()'s, with the floor's steps, training rate, stop evaluations
    and settings in the note; a floor run that did not solve invalidates it."""
    from figures import Figure

    unsolved = sum(1 for run in floors if not run["reached"])
    to_floor = [o / f["seconds"] for o, f in zip(ours_seconds, floors, strict=True)]
    ours_median = statistics.median(ours_seconds)
    floor_median = statistics.median(run["seconds"] for run in floors)
    return Figure(
        name,
        "x",
        to_floor,
        target,
        higher_is_better=False,
        value_override=ours_median / floor_median,
        low=min(to_floor),
        high=max(to_floor),
        note=f"ours {ours_median:.1f} s, the floor {floor_median:.1f} s "
        f"({statistics.median(run['timesteps'] for run in floors):.0f} env steps at "
        f"{statistics.median(run['rate'] for run in floors):.0f}/s of training, "
        f"{statistics.median(run['evaluations'] for run in floors):.0f} stop evaluations) "
        f"(medians; the floor: bench/bare_rllib_solve.py with {settings['sections']}); where "
        f"ours is about the floor and SB3 is ahead, the gap is RLlib's own"
        + (f"; {unsolved} floor run(s) did not solve" if unsolved else ""),
        invalid=f"{unsolved} floor run(s) did not solve" if unsolved else "",
    )


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# ---- how well an exported policy plays -------------------------------------------------------


def episode_return(act: Callable[[Any], Any], env_id: str = "CartPole-v1") -> float:
    """Mean return of `act` (observation -> action) on EVAL_EPISODES fresh episodes of `env_id`,
    the same seeds for every policy: a job's own stop condition averages only the few episodes
    of its last iteration."""
    import gymnasium as gym

    env = gym.make(env_id)
    returns = []
    for episode in range(EVAL_EPISODES):
        observation, _ = env.reset(seed=1000 + episode)
        total, done = 0.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(act(observation))
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return statistics.mean(returns)


def served_policy_return(model_dir: Path) -> float:
    """The exported CartPole model as `serve` loads it (greedy actions)."""
    from sagemaker_rl_container.serving.load import load_policy

    policy = load_policy(model_dir)
    return episode_return(lambda obs: int(policy.predict(obs).outputs["actions"][0]))


def onnx_return(path: Path, env_id: str = "CartPole-v1") -> float:
    """A policy.onnx (ours or the peer's: "observations" in, greedy "actions" out) on `env_id`:
    a discrete action is one integer per observation, a continuous one an array."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path))

    def act(observation: Any) -> Any:
        batch = np.asarray(observation, np.float32)[None]
        action = session.run(["actions"], {"observations": batch})[0][0]
        return action if np.ndim(action) else int(action)

    return episode_return(act, env_id)


# ---- what a container used ------------------------------------------------------------------


def cpu_seconds(container_id: str) -> float:
    """CPU time used so far by the container's processes (cgroup v1 or v2), NaN if unknown."""
    try:
        v1 = Path(f"/sys/fs/cgroup/cpuacct/docker/{container_id}/cpuacct.usage")
        if v1.exists():
            return int(v1.read_text()) / 1e9
        v2 = Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cpu.stat")
        usage = dict(line.split() for line in v2.read_text().splitlines())
        return int(usage["usage_usec"]) / 1e6
    except (OSError, ValueError, KeyError):
        return math.nan


# ---- serving: a policy to serve, and wrk's load on it -------------------------------------

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '[0.01, -0.02, 0.03, 0.04]'
done = function(summary, latency, requests)
  io.write(string.format("RESULT p50_us=%d p99_us=%d requests=%d errors=%d duration_us=%d\\n",
    latency:percentile(50), latency:percentile(99), summary.requests,
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout, summary.duration))
end
"""


def serving_model(base: Path) -> Path:
    """A CartPole policy to serve under base/model, trained first (in this venv) if missing."""
    if not (base / "model" / "policy.onnx").exists():
        print("training a CartPole policy to serve ...", flush=True)
        sys.path.insert(0, str(ROOT / "tests"))
        from conftest import QUICK_PPO, make_job, run_train

        make_job(base, {**QUICK_PPO, "rl_stop_iterations": "2"})
        result = run_train(base)
        if result.returncode != 0:
            sys.exit(f"training the benchmark model failed:\n{result.log[-2000:]}")
    return base / "model"


def wait_for_ping(port: int, timeout_s: float = 60) -> None:
    """Until `serve` on this loopback port answers /ping; exits the benchmark if it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit("serve did not come up")
            time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wrk(port: int, script: Path, threads: int, connections: int, duration_s: int) -> dict[str, int]:
    """One wrk run against /invocations: p50/p99 (us), requests, errors (non-2xx included)."""
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration_s}s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/invocations",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    fields = re.search(r"RESULT (.*)", out)[1]
    return {key: int(value) for key, value in (f.split("=") for f in fields.split())}
