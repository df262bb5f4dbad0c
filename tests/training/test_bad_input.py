"""Bad input ends with exit code 1 and one line in output/failure naming what to fix:
never a bare traceback, never a silent success, never a hang."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import QUICK_PPO, make_job, run_train

SOURCES = Path(__file__).parent / "sources"

CASES = {
    "unknown algorithm": (
        {"rl_algorithm": "PPOO"},
        None,
        None,
        "rl_algorithm 'PPOO' is not an RLlib algorithm; choose one of APPO",
    ),
    "unknown gymnasium env": (
        {"rl_env": "CartPole-v9"},
        None,
        None,
        "rl_env 'CartPole-v9' is not a registered gymnasium environment (did you mean CartPole-v1",
    ),
    "env module missing": (
        {"rl_env": "mazes:Maze"},
        None,
        None,
        "rl_env 'mazes:Maze': no module named 'mazes'; put mazes.py in the source directory",
    ),
    "env class missing": (
        {"rl_env": "corridor:Corridoor"},
        SOURCES / "corridor",
        None,
        "rl_env 'corridor:Corridoor': module corridor has no attribute 'Corridoor'",
    ),
    "env constructor fails": (
        {"rl_env": "exploding:ExplodingEnv"},
        SOURCES / "corridor",
        None,
        "rl_env 'exploding:ExplodingEnv' could not be created: ValueError: missing map file level1.txt",
    ),
    "typo in rl_ key": (
        {"rl_stop_iteration": "5"},
        None,
        None,
        "unknown hyperparameter rl_stop_iteration (did you mean rl_stop_iterations?)",
    ),
    "ill-typed rl_ value": (
        {"rl_stop_iterations": "ten"},
        None,
        None,
        "hyperparameter rl_stop_iterations='ten' is invalid",
    ),
    "unknown override setting": (
        {"rl.training.learning_rate": "0.1"},
        None,
        None,
        "hyperparameter rl.training.learning_rate: PPO has no setting 'learning_rate' in training()",
    ),
    "unknown override section": (
        {"rl.trainng.lr": "0.1"},
        None,
        None,
        "hyperparameter rl.trainng.lr: unknown section 'trainng' (did you mean training?)",
    ),
    "ill-typed override": (
        {"rl.training.lr": "fast"},
        None,
        None,
        "hyperparameter rl.training.lr='fast': expected a number",
    ),
    # SageMaker's tuner sends a ContinuousParameter's fractions as they fall.
    "a tuner's fraction for a count": (
        {"rl.training.num_epochs": "2.5"},
        None,
        None,
        "hyperparameter rl.training.num_epochs=2.5: a count must be a whole number; tune it with an IntegerParameter",
    ),
    "a tuner's fraction for an rl_ count": (
        {"rl_stop_iterations": "12.5"},
        None,
        None,
        "hyperparameter rl_stop_iterations=12.5 is invalid: input should be a valid integer, got a number with a fractional part",
    ),
    "non-finite stop target": (
        {"rl_stop_mean_return": "NaN"},
        None,
        None,
        "hyperparameter rl_stop_mean_return=nan is invalid: input should be a finite number",
    ),
    "infinite timeout": (
        {"rl_stop_seconds": "Infinity"},
        None,
        None,
        "hyperparameter rl_stop_seconds=inf is invalid: input should be a finite number",
    ),
    "negative learning rate": (
        {"rl.training.lr": "-0.001"},
        None,
        None,
        "hyperparameter rl.training.lr=-0.001: a learning rate must be > 0",
    ),
    "number too large for a float": (
        {"rl.training.lr": "1e400"},
        None,
        None,
        "hyperparameter rl.training.lr=inf: expected a finite number",
    ),
    "a list where a number belongs": (
        {"rl.training.gamma": "[0.5, 0.9]"},
        None,
        None,
        "hyperparameter rl.training.gamma=[0.5, 0.9]: expected a number (a list: a schedule for lr and entropy_coeff, a [low, high] range for n_step)",
    ),
    "a megabyte value": (
        {"rl_env_config": "x" * 1_000_000},
        None,
        None,
        "hyperparameter rl_env_config='xxxxxxxx",
    ),
    "env fails while training": (
        {"rl_env": "faulty:StepFails"},
        SOURCES / "corridor",
        None,
        "training failed: KeyError: \"no reward defined for state 'lava'\" (at faulty.py:",
    ),
    "override RLlib rejects": (
        {"rl.training.minibatch_size": "9000"},
        None,
        None,
        "the RLlib configuration is invalid:",
    ),
    "more runners than CPUs": (
        {"rl.env_runners.num_env_runners": "64"},
        None,
        None,
        "the configuration needs 65 CPUs (64 env runners x 1",
    ),
    "framework not in image": (
        {"rl_framework": "tf2"},
        None,
        None,
        "rl_framework 'tf2' needs tensorflow, which this image does not have",
    ),
    "missing program": (
        {},
        SOURCES / "corridor",
        "trian.py",
        "sagemaker_program 'trian.py' not found in the source directory",
    ),
    "program without source files": (
        {},
        None,
        "train.py",
        "sagemaker_program 'train.py' not found in the source directory",
    ),
    "agent mapping for a script's single-agent env": (
        {"rl.multi_agent.policy_mapping": '{"*": "walker"}'},
        SOURCES / "corridor",
        "train.py",
        "hyperparameter rl.multi_agent.policy_mapping: the training script's config names its "
        "own env (corridor-v0), whose agents this job cannot list, so the setting would change "
        "nothing",
    ),
    "agent mapping for a script that maps its own": (
        {"rl.multi_agent.policies_to_train": '["finder"]'},
        SOURCES / "multi_agent",
        "train.py",
        "hyperparameter rl.multi_agent.policies_to_train: the training script's config maps "
        "its agents to policies itself (config.multi_agent())",
    ),
    "program raises": (
        {},
        SOURCES / "corridor",
        "broken.py",
        "broken.py failed: RuntimeError: the reward table is empty",
    ),
    "program never trains": (
        {},
        SOURCES / "corridor",
        "no_training.py",
        "no_training.py finished without training",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_fails_with_one_clear_line(tmp_path, case):
    hyperparameters, source, program, expected = CASES[case]
    root = make_job(
        tmp_path / "job",
        {**QUICK_PPO, "rl_stop_iterations": "1", **hyperparameters},
        source_dir=source,
        program=program,
    )
    result = run_train(root, timeout=120)
    assert result.returncode == 1, result.log[-2000:]
    assert not result.succeeded
    failure = result.failure
    assert failure is not None and expected in failure, failure
    assert "\n" not in failure.strip() and "Traceback" not in failure
    assert len(failure) < 1024  # SageMaker shows the first 1024 characters as FailureReason
    assert not any((root / "model").iterdir())


@pytest.mark.parametrize(
    ("file", "content", "expected"),
    [
        (
            "hyperparameters.json",
            '{"rl_env": "CartPole-v1",}',
            "hyperparameters.json is not valid JSON",
        ),
        (
            "resourceconfig.json",
            '{"current_host": "algo-1"}',
            "resourceconfig.json lacks hosts",
        ),
        (
            "resourceconfig.json",
            '{"current_host": "algo-3", "hosts": ["algo-1"]}',
            "current_host 'algo-3' is not among hosts ['algo-1']",
        ),
        ("hyperparameters.json", "", "hyperparameters.json is empty: it must hold a JSON object"),
        (
            "resourceconfig.json",
            '{"current_host": "algo-1", "hosts": []}',
            "hosts must be a non-empty list of host names, not []",
        ),
        (
            "resourceconfig.json",
            '{"current_host": "algo-1", "hosts": "algo-1"}',
            "hosts must be a non-empty list of host names, not 'algo-1'",
        ),
        (
            "hyperparameters.json",
            b'{"rl_env": "CartPole-v1"}'.replace(b"Cart", b"\xffart"),
            "hyperparameters.json is not UTF-8 text (byte 12 is 0xff)",
        ),
        ("resourceconfig.json", None, "resourceconfig.json is missing"),
    ],
)
def test_malformed_config_files_fail_with_one_clear_line(tmp_path, file, content, expected):
    root = make_job(tmp_path / "job")
    path = root / "input" / "config" / file
    if content is None:
        path.unlink()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    result = run_train(root, timeout=60)
    assert result.returncode == 1
    assert expected in result.failure and "\n" not in result.failure.strip()


def test_missing_output_directory_is_created_so_the_outcome_is_recorded(tmp_path):
    import shutil

    root = make_job(tmp_path / "job", {"rl_algorithm": "NOPE"})
    shutil.rmtree(root / "output")
    result = run_train(root, timeout=60)
    assert result.returncode == 1
    assert "rl_algorithm 'NOPE'" in result.failure


def test_a_corrupt_source_tarball_is_named_not_reported_as_a_missing_program(tmp_path):
    import json

    tarball = tmp_path / "sourcedir.tar.gz"
    tarball.write_bytes(b"\x1f\x8b\x08\x00 this is not the archive that was uploaded")
    root = make_job(tmp_path / "job", {}, program="train.py")
    config = root / "input" / "config" / "hyperparameters.json"
    hyperparameters = json.loads(config.read_text())
    hyperparameters["sagemaker_submit_directory"] = json.dumps(str(tarball))
    config.write_text(json.dumps(hyperparameters))
    result = run_train(root, timeout=120)
    assert result.returncode == 1
    assert result.failure == (
        f"sagemaker_submit_directory '{tarball}' is not a readable .tar.gz archive: upload the "
        "source directory again"
    )
