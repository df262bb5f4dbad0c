"""Fault injection, as managed spot delivers them (`make test-faults`):

- SIGTERM at seeded random moments of a PPO job (start-up, mid-iteration, checkpoint writes,
  evaluation, export), each followed by a restart on the same directory: the interrupted job
  exits 143 within 60 s with one failure line, the restart resumes from the newest good
  checkpoint, ends at the right iteration count and exports the model;
- SIGKILL while a checkpoint is written, then a restart.

The bad-input catalogue runs once, in `make test` (tests/training/test_bad_input.py).

Every trial's figures go to tests/faults/RESULTS.md (written at the end of the run), which the
docs link, as bench/RESULTS.md is for speed.
"""

from __future__ import annotations

import json
import random
import re
import signal
import time
from datetime import date
from pathlib import Path

import pytest

from conftest import QUICK_PPO, make_job, run_train, start_train
from sagemaker_rl_container.metrics import parse_log

pytestmark = pytest.mark.faults

RESULTS = Path(__file__).with_name("RESULTS.md")
SEED = 20261129
TRIALS = 10
STOP_AT = 120
# Start-up takes a few seconds and training about a tenth of a second an iteration: this
# window covers start-up, training, checkpoints, the end and export.
LATEST_SIGNAL_S = 20.0
MAX_EXIT_S = 60.0

HYPERPARAMETERS = {
    **QUICK_PPO,
    "rl_stop_iterations": str(STOP_AT),
    "rl_checkpoint_frequency": "10",
}

rows: dict[str, list[dict]] = {"sigterm": [], "sigkill": []}
SIGKILL_TRIALS = 3


@pytest.fixture(scope="module", autouse=True)
def results_file():
    yield
    if any(rows.values()):
        RESULTS.write_text(render())


def newest_checkpoint(root: Path) -> int:
    found = [
        int(p.parent.name.split("-")[1])
        for p in (root / "checkpoints").glob("checkpoint-*/checkpoint.json")
    ]
    return max(found, default=0)


def iterations_logged(log: str) -> list[int]:
    return [row["iteration"] for row in parse_log(log) if "iteration" in row]


@pytest.mark.parametrize("trial", range(TRIALS))
def test_sigterm_at_a_random_moment_then_restart(tmp_path, trial):
    delay = random.Random(SEED + trial).uniform(0.5, LATEST_SIGNAL_S)
    root = make_job(tmp_path / "job", HYPERPARAMETERS)
    log_path = tmp_path / "first.log"
    proc = start_train(root, log_path)
    time.sleep(delay)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        returncode = proc.wait(timeout=MAX_EXIT_S + 30)
    except Exception:
        proc.kill()
        raise
    to_exit = time.monotonic() - sent
    first = log_path.read_text()
    trained = iterations_logged(first)
    failure = root / "output" / "failure"
    success = root / "output" / "success"
    saved = newest_checkpoint(root)
    row = {
        "trial": trial,
        "signal_s": round(delay, 1),
        "phase": phase_of(first),
        "exit": returncode,
        "exit_s": round(to_exit, 1),
        "last_iteration": max(trained, default=0),
        "checkpoint": saved,
    }
    if returncode == 0:  # it finished before the signal was handled: a complete job
        assert success.exists() and (root / "model" / "metadata.json").exists()
        row.update(restart="not needed", lost=0, final=max(trained), outcome="finished first")
        rows["sigterm"].append(row)
        return
    if returncode != 128 + signal.SIGTERM:  # recorded in the results, then failed
        row.update(restart="-", lost="-", final="-", outcome=f"FAILED: exit {returncode}")
        rows["sigterm"].append(row)
    assert returncode == 128 + signal.SIGTERM, first[-3000:]
    assert to_exit <= MAX_EXIT_S
    assert failure.exists() and "\n" not in failure.read_text().strip()
    assert not success.exists()

    make_job(root, HYPERPARAMETERS)
    result = run_train(root, timeout=600)
    assert result.returncode == 0, result.log[-3000:]
    resumed = re.search(r"Resumed from checkpoint-(\d+)", result.log)
    assert (int(resumed[1]) if resumed else 0) == saved
    again = iterations_logged(result.log)
    meta = json.loads((root / "model" / "metadata.json").read_text())
    assert meta["training"]["iterations"] == STOP_AT
    assert (root / "model" / "policy.onnx").exists()
    if again:
        assert again == list(range(saved + 1, STOP_AT + 1))
    row.update(
        restart=f"resumed at {saved}" if saved else "fresh",
        lost=max(trained, default=0) - saved,
        final=meta["training"]["iterations"],
        outcome="ok",
    )
    rows["sigterm"].append(row)


@pytest.mark.parametrize("trial", range(SIGKILL_TRIALS))
def test_sigkill_while_checkpointing_every_iteration_then_restart(tmp_path, trial):
    """SIGKILL gives no chance to clean up: it is sent the moment a save is writing its files
    (checkpoints after every iteration). The restart must find only complete checkpoints,
    clear what the save left, resume from the newest and finish."""
    hyperparameters = {**HYPERPARAMETERS, "rl_checkpoint_frequency": "1"}
    root = make_job(tmp_path / "job", hyperparameters)
    log_path = tmp_path / "first.log"
    proc = start_train(root, log_path)
    deadline = time.monotonic() + 120
    while "Iteration 5:" not in log_path.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-2000:]
        time.sleep(0.05)
    time.sleep(random.Random(SEED + 100 + trial).uniform(0.0, 1.0))
    # Then kill it the moment a save is writing its files (a staging directory with content).
    staging = root / ".checkpoints-staging"
    while time.monotonic() < deadline and proc.poll() is None:
        if staging.is_dir() and any(any(p.iterdir()) for p in staging.iterdir() if p.is_dir()):
            break
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    staged = [p.name for p in root.glob(".checkpoints-staging/*")]
    saved = newest_checkpoint(root)

    make_job(root, hyperparameters)
    result = run_train(root, timeout=600)
    row = {"trial": trial, "newest_checkpoint": saved, "staged_left": len(staged)}
    rows["sigkill"].append(row)
    assert result.returncode == 0, result.log[-3000:]
    resumed = re.search(r"Resumed from checkpoint-(\d+)", result.log)
    assert resumed and int(resumed[1]) == saved
    assert not list(root.glob(".checkpoints-staging/*"))  # what the kill left is cleared
    assert not [p for p in (root / "checkpoints").iterdir() if p.name.startswith(".")]
    meta = json.loads((root / "model" / "metadata.json").read_text())
    assert meta["training"]["iterations"] == STOP_AT
    row.update(resumed=int(resumed[1]), final=meta["training"]["iterations"], outcome="ok")


def phase_of(log: str) -> str:
    if "Model exported" in log:
        return "export or after"
    if "Training stopped" in log:
        return "final checkpoint / export"
    if parse_log(log):
        return "training"
    if "Training PPO" in log:
        return "algorithm build"
    return "start-up (imports, Ray)"


def render() -> str:
    sigterm = rows["sigterm"]
    lines = [
        "# Fault injection results",
        "",
        f"Written by `make test-faults` (tests/faults/test_faults.py) on {date.today()}: "
        f"a PPO CartPole job of {STOP_AT} iterations (checkpoints every 10), SIGTERM at a "
        f"seeded random moment (seed {SEED}), then a restart on the same directory.",
        "",
    ]
    if sigterm:
        exits = sorted(r["exit_s"] for r in sigterm if r["exit"] == 143)
        lost = [r["lost"] for r in sigterm if isinstance(r["lost"], int)]
        failed = [r for r in sigterm if str(r["outcome"]).startswith("FAILED")]
        lines += [
            f"{len(sigterm)} trials: {sum(r['exit'] == 143 for r in sigterm)} exited 143, "
            f"{sum(r['exit'] == 0 for r in sigterm)} had finished first, {len(failed)} failed; "
            f"time to exit after SIGTERM {exits[0] if exits else '-'} to "
            f"{exits[-1] if exits else '-'} s (limit {MAX_EXIT_S:g} s); iterations lost "
            f"{min(lost, default='-')} to {max(lost, default='-')}; every restart of a trial "
            f"that exited 143 resumed from the newest checkpoint and ended at iteration "
            f"{STOP_AT} with the model exported.",
            "",
            "| trial | SIGTERM at (s) | phase | exit | exit after (s) | last iteration | "
            "newest checkpoint | restart | iterations lost | final | outcome |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in sorted(sigterm, key=lambda r: r["trial"]):
            lines.append(
                f"| {r['trial']} | {r['signal_s']} | {r['phase']} | {r['exit']} | {r['exit_s']} "
                f"| {r['last_iteration']} | {r['checkpoint']} | {r['restart']} | {r['lost']} "
                f"| {r['final']} | {r['outcome']} |"
            )
        lines.append("")
    kills = rows["sigkill"]
    if kills:
        lines += [
            f"{len(kills)} SIGKILLs sent the moment a save was writing its files: "
            f"{sum(r['staged_left'] > 0 for r in kills)} landed inside the save (its staging "
            f"directory was left behind, outside /opt/ml/checkpoints); restarts that resumed "
            f"from the newest complete checkpoint and finished: "
            f"{sum(r.get('outcome') == 'ok' for r in kills)} of {len(kills)}.",
            "",
            "| trial | newest complete checkpoint | staging left by the kill | resumed from | final |",
            "|---|---|---|---|---|",
        ]
        for r in kills:
            lines.append(
                f"| {r['trial']} | {r['newest_checkpoint']} | {r['staged_left']} | "
                f"{r.get('resumed', '-')} | {r.get('final', '-')} |"
            )
        lines.append("")
    return "\n".join(lines)
