"""Simulators outside the job (rl_external_port): a simulator process plays CartPole-v1 itself
and connects to the job over TCP with RLlib's RLlink protocol (tests/training/sources/external/
simulator.py); the job trains on its episodes and exports a policy that plays the env. A
simulator that goes away fails the job in one line after rl_external_timeout, not a hang.
tests/image/test_image.py runs the simulator as a second container."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym

from conftest import free_port, greedy_onnx_return, make_job, run_train

SIMULATOR = Path(__file__).parent / "sources" / "external" / "simulator.py"
# CartPole-v1 at random lasts about 22 steps.
RANDOM_RETURN = 22.0


def train_with_simulator(tmp_path, hyperparameters: dict, *simulator_args: str, timeout=600):
    """A CartPole-v1 job on a free port, and the simulator process connecting to it; returns
    the job's result, the port and the job's seconds."""
    port = free_port()
    root = make_job(
        tmp_path, {"rl_env": "CartPole-v1", "rl_external_port": str(port), **hyperparameters}
    )
    simulator = subprocess.Popen(
        [sys.executable, str(SIMULATOR), "127.0.0.1", str(port), *simulator_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started = time.monotonic()
    try:
        job = run_train(root, timeout=timeout)
    finally:
        simulator.kill()
    return job, port, time.monotonic() - started


def test_a_simulator_process_plays_and_the_job_learns_from_its_episodes(tmp_path):
    job, port, _ = train_with_simulator(
        tmp_path,
        {"rl_stop_mean_return": "150", "rl_stop_iterations": "40", "rl_external_timeout": "120"},
    )
    assert job.returncode == 0, job.log[-3000:]
    assert f"A simulator connected to port {port} from 127.0.0.1:" in job.log
    assert "Training stopped: mean return" in job.log
    # The exported policy, played greedily in the env the simulator ran, beats random play.
    played = greedy_onnx_return(job.root / "model", gym.make("CartPole-v1"), episodes=10)
    assert played >= RANDOM_RETURN + 80, played


def test_a_simulator_that_disconnects_fails_the_job_in_one_line_after_the_timeout(tmp_path):
    job, port, seconds = train_with_simulator(
        tmp_path,
        {"rl_stop_iterations": "100", "rl_external_timeout": "5"},
        "--sends-then-quit",
        "2",
        timeout=300,
    )
    assert job.returncode == 1, job.log[-3000:]
    assert job.failure.strip() == (
        f"the simulator on port {port} disconnected and none reconnected within 5 s "
        f"(rl_external_timeout)"
    )
    assert "disconnected; waiting for one to connect" in job.log
    assert seconds < 90


def test_a_port_outside_the_unprivileged_range_fails_in_one_line(tmp_path):
    # What else the external path refuses: tests/unit/test_external_checks.py.
    root = make_job(tmp_path, {"rl_env": "CartPole-v1", "rl_external_port": "80"})
    job = run_train(root, timeout=120)
    assert job.returncode == 1
    assert job.failure.startswith("hyperparameter rl_external_port=80 is invalid"), job.failure
