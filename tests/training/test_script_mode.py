"""Script mode: the user's program customises the config; the package trains and exports."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import (
    build_wheel,
    make_job,
    read_json,
    run_train,
    sigterm_once_logged,
)

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


# ---- SageMaker's script-mode contract, for programs not written for this package ----------


@pytest.fixture
def sm_script_source(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(SOURCES / "sm_script", source)
    (source / "requirements.txt").write_text(f"./{build_wheel(source)}\n")
    yield source
    subprocess.run(
        [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "sm-test-requirement"], check=False
    )


@pytest.mark.parametrize("program", ["train.py", "train.sh"])
def test_a_sagemaker_script_gets_the_sm_environment_its_arguments_and_its_requirements(
    tmp_path, sm_script_source, program
):
    data = tmp_path / "data"
    data.mkdir()
    (data / "episodes.csv").write_text("a,b\n1,2\n")
    root = make_job(
        tmp_path / "job",
        {"episodes": "3", "layers": "[64, 64]"},
        source_dir=sm_script_source,
        program=program,
        channels={"training": data},
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert result.succeeded
    summary = read_json(root / "model" / "summary.json")
    assert summary["episodes"] == 3 and summary["layers"] == [64, 64]
    assert summary["hps"] == {"episodes": 3, "layers": [64, 64]}
    assert summary["channels"] == ["training"] and summary["training_files"] == ["episodes.csv"]
    assert summary["num_cpus"] >= 1 and summary["hosts"] == [summary["current_host"]]
    assert summary["output_data_dir"] == str(root / "output" / "data")
    assert summary["requirement"] == "installed from requirements.txt"
    assert summary["cwd"] == str(root / "code")
    assert "Installing requirements.txt" in result.log
    if program == "train.sh":
        assert "shell entry point: --episodes 3 --layers [64, 64]" in result.log


def test_a_requirement_that_cannot_install_fails_naming_it(tmp_path, sm_script_source):
    (sm_script_source / "requirements.txt").write_text("sagemaker-rl-no-such-package==0.0.1\n")
    root = make_job(tmp_path / "job", {}, source_dir=sm_script_source, program="train.py")
    result = run_train(root)
    assert result.returncode == 1
    assert result.failure == (
        "requirements.txt in the source directory failed to install: No matching distribution "
        "found for sagemaker-rl-no-such-package==0.0.1"
    )


def test_a_script_that_fails_ends_the_job_with_its_error_line(tmp_path, sm_script_source):
    root = make_job(
        tmp_path / "job", {"episodes": "3"}, source_dir=sm_script_source, program="train.py"
    )
    result = run_train(root)
    assert result.returncode == 1
    # argparse's own message: the last line the program printed on stderr
    assert result.failure == (
        "train.py exited with status 2: train.py: error: the following arguments are "
        "required: --layers"
    )


def test_sigterm_reaches_the_program_which_checkpoints_and_exits_143(tmp_path):
    hyperparameters = {"rl_stop_iterations": "500", "rl_checkpoint_frequency": "0"}
    root = make_job(
        tmp_path / "job", hyperparameters, source_dir=SOURCES / "corridor", program="train.py"
    )
    log = tmp_path / "first.log"
    failure = sigterm_once_logged(root, log, "Iteration 2:")
    assert "SIGTERM received: passed on to the training program" in log.read_text()
    assert re.fullmatch(r"training interrupted by SIGTERM after iteration \d+; .*", failure)
    iteration = int(re.search(r"after iteration (\d+)", failure)[1])
    assert (root / "checkpoints" / f"checkpoint-{iteration:06d}" / "checkpoint.json").exists()

    make_job(
        root,
        {**hyperparameters, "rl_stop_iterations": str(iteration + 1)},
        source_dir=SOURCES / "corridor",
        program="train.py",
    )
    result = run_train(root)
    assert result.returncode == 0, result.log[-3000:]
    assert f"Resumed from checkpoint-{iteration:06d}" in result.log


def test_a_source_directory_with_setup_py_is_installed_and_run_as_a_module(tmp_path):
    root = make_job(
        tmp_path / "job",
        {"epochs": "2"},
        source_dir=SOURCES / "sm_package",
        program="train_module.py",
    )
    try:
        result = run_train(root)
        assert result.returncode == 0, result.log[-3000:]
        written = read_json(root / "model" / "module.json")
        assert written == {
            "argv": ["--epochs", "2"],
            "helper": "packaged helper",
            "name": "__main__",
        }
        assert "-m train_module --epochs 2" in result.log
    finally:
        subprocess.run(
            [sys.executable, "-m", "pip", "uninstall", "-y", "-q", "sm-test-package"], check=False
        )
