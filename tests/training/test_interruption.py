"""Spot interruptions and restarts: SIGTERM saves a checkpoint, a rerun resumes from it, and
a corrupt newest checkpoint falls back to the previous one."""

from __future__ import annotations

import re
import signal
import time

import pytest

from conftest import (
    QUICK_PPO,
    JobResult,
    make_job,
    run_train,
    sigterm_once_logged,
    start_train,
    wait_for_line,
)


def test_sigterm_checkpoints_promptly_and_a_rerun_continues_the_count(tmp_path):
    hyperparameters = {
        **QUICK_PPO,
        "rl_stop_iterations": "500",
        "rl_checkpoint_frequency": "0",
    }
    root = make_job(tmp_path / "job", hyperparameters)
    log = tmp_path / "first.log"
    failure = sigterm_once_logged(root, log, "Iteration 3:")
    interrupted_at = int(re.search(r"interrupted by SIGTERM after iteration (\d+)", failure)[1])
    assert interrupted_at >= 3
    assert not (root / "output" / "success").exists()
    assert (root / "checkpoints" / f"checkpoint-{interrupted_at:06d}" / "checkpoint.json").exists()

    # SageMaker restarts the job with the same checkpoints (and a fresh output directory).
    make_job(root, {**hyperparameters, "rl_stop_iterations": str(interrupted_at + 2)})
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    iterations = [int(m["iteration"]) for m in result.metric_lines()]
    assert iterations == [interrupted_at + 1, interrupted_at + 2]
    assert f"Resumed from checkpoint-{interrupted_at:06d}" in result.log
    # The step count continued too: one more batch (500 steps, rounded up to whole steps of
    # the vectorised envs) on top of the interrupted run's count.
    before = {
        int(m["iteration"]): int(m["timesteps_total"])
        for m in JobResult(0, log.read_text(), root).metric_lines()
    }[interrupted_at]
    timesteps = [int(m["timesteps_total"]) for m in result.metric_lines()]
    assert before + 500 <= timesteps[0] < before + 600


def corrupt(checkpoint_dir):
    for path in (checkpoint_dir / "algorithm").rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes()[: max(1, path.stat().st_size // 3)])


def test_corrupt_newest_checkpoint_falls_back_then_fails_clearly_when_none_is_usable(
    tmp_path,
):
    hyperparameters = {
        **QUICK_PPO,
        "rl_stop_iterations": "2",
        "rl_checkpoint_frequency": "1",
    }
    root = make_job(tmp_path / "job", hyperparameters)
    assert run_train(root).returncode == 0
    checkpoints = root / "checkpoints"
    corrupt(checkpoints / "checkpoint-000002")

    make_job(root, {**hyperparameters, "rl_stop_iterations": "3"})
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert "Checkpoint checkpoint-000002 (iteration 2) is unusable" in result.log
    assert "Resumed from checkpoint-000001" in result.log
    assert [m["iteration"] for m in result.metric_lines()] == ["2", "3"]

    for checkpoint in checkpoints.iterdir():
        corrupt(checkpoint)
    make_job(root, {**hyperparameters, "rl_stop_iterations": "5"})
    result = run_train(root)
    assert result.returncode == 1
    assert result.failure.startswith("no usable checkpoint in ")
    assert "checkpoint-000003:" in result.failure and "\n" not in result.failure


@pytest.mark.parametrize(
    ("signals_sent", "exit_code", "failure"),
    [
        (
            [signal.SIGTERM, signal.SIGTERM],
            128 + signal.SIGTERM,
            "training was stopped by a second SIGTERM before it could checkpoint",
        ),
        (
            [signal.SIGINT],
            128 + signal.SIGINT,
            "training was interrupted (SIGINT or KeyboardInterrupt) before it finished",
        ),
    ],
    ids=["second SIGTERM", "SIGINT"],
)
def test_an_interrupted_job_never_exits_0_and_always_says_why(
    tmp_path, signals_sent, exit_code, failure
):
    # sagemaker-training ends in `finally: sys.exit(0)`: without care these jobs exited 0 with
    # neither output/success nor output/failure, which SageMaker would call Completed.
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "500"})
    log = tmp_path / "job.log"
    proc = start_train(root, log)
    wait_for_line(log, "Iteration 2:", proc, timeout=180)
    for signum in signals_sent:
        proc.send_signal(signum)
        time.sleep(0.05)
    returncode = proc.wait(timeout=60)
    assert returncode == exit_code, log.read_text()[-2000:]
    assert not (root / "output" / "success").exists()
    written = (root / "output" / "failure").read_text()
    assert written.startswith(failure) or written.startswith("training interrupted by SIGTERM")


def poison_weights(checkpoint_dir):
    """NaN weights written in place, as a diverged run or a bad copy would leave them; the
    manifest is made to match, so that only the weights themselves are wrong."""
    import hashlib
    import json
    import pickle

    import numpy as np

    for path in checkpoint_dir.rglob("module_state.pkl"):
        state = pickle.loads(path.read_bytes())
        if isinstance(state, dict) and any(isinstance(v, np.ndarray) for v in state.values()):
            for value in state.values():
                if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                    value[...] = np.nan
            path.write_bytes(pickle.dumps(state))
    manifest_path = checkpoint_dir / "checkpoint.json"
    manifest = json.loads(manifest_path.read_text())
    for name in manifest["files"]:
        data = (checkpoint_dir / name).read_bytes()
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest_path.write_text(json.dumps(manifest))


def test_a_checkpoint_with_non_finite_weights_is_skipped_like_a_corrupt_one(tmp_path):
    hyperparameters = {**QUICK_PPO, "rl_stop_iterations": "2", "rl_checkpoint_frequency": "1"}
    root = make_job(tmp_path / "job", hyperparameters)
    assert run_train(root).returncode == 0
    poison_weights(root / "checkpoints" / "checkpoint-000002")

    make_job(root, {**hyperparameters, "rl_stop_iterations": "3"})
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert (
        "Checkpoint checkpoint-000002 (iteration 2) is unusable: ValueError: its weights are not finite"
        in result.log
    )
    assert "Resumed from checkpoint-000001" in result.log
    assert [m["iteration"] for m in result.metric_lines()] == ["2", "3"]
