"""Script mode: the user's program customises the config; the package trains and exports."""

from __future__ import annotations

from pathlib import Path

from conftest import make_job, read_json, run_train

SOURCES = Path(__file__).parent / "sources"


def test_user_script_registers_env_and_returns_config(tmp_path):
    root = make_job(
        tmp_path / "job",
        {"corridor_length": "4", "rl_stop_iterations": "2", "rl.training.lr": "0.001"},
        source_dir=SOURCES / "corridor",
        program="train.py",
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    assert [m["iteration"] for m in result.metric_lines()] == ["1", "2"]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["env"] == "corridor-v0"
    assert meta["env_config"] == {"length": 4}  # the script read its hyperparameter from argv
    assert (root / "model" / "policy.onnx").exists()
    assert (root / "checkpoints" / "checkpoint-000002").is_dir()
    assert "Running " in result.log and "--corridor_length 4" in result.log
