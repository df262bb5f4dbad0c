"""Ray Tune sweeps inside one job (rl_tune_space): Population Based Training on one host, a
SIGTERM mid-sweep and a restart that resumes it, and bad sweep settings failing in one line.
The two-host sweep is in tests/cluster."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict

import gymnasium as gym
import pytest

from conftest import (
    QUICK_PPO,
    greedy_onnx_return,
    make_job,
    read_json,
    run_train,
    sigterm_once_logged,
)

# CartPole-v1's random policy returns about 22; the sweep's best trial must play well above it.
RANDOM_RETURN = 22
SPACE = {
    "rl.training.lr": {"loguniform": [0.0003, 0.01]},
    "rl.training.num_epochs": [2, 4],
}
SWEEP = {
    **{key: value for key, value in QUICK_PPO.items() if key != "rl.env_runners.num_env_runners"},
    "rl_tune_space": json.dumps(SPACE),
    "rl_tune_search": "pbt",
    "rl_tune_samples": "4",
    # Often, so that PBT meets trials that have checkpointed (it clones only those)
    "rl_tune_perturbation_interval": "2",
    "rl_seed": "3",
}


def trial_rows(root) -> dict[str, list[dict[str, str]]]:
    rows = defaultdict(list)
    with (root / "output" / "data" / "tune_trials.csv").open() as file:
        for row in csv.DictReader(file):
            rows[row["trial"]].append(row)
    return rows


def test_pbt_sweep_exploits_explores_and_exports_the_best_trial(tmp_path):
    root = make_job(tmp_path / "job", {**SWEEP, "rl_stop_iterations": "16"})
    result = run_train(root, timeout=600)
    assert result.returncode == 0, result.log[-4000:]
    assert "pbt search, 4 trials of 0.5 CPUs each" in result.log

    # Every trial ran to its budget, and PBT moved some of them onto others' weights with new
    # settings: a trial's settings change mid-run, logged and in the table.
    trials = trial_rows(root)
    assert len(trials) == 4
    assert all(int(rows[-1]["iteration"]) == 16 for rows in trials.values())
    # Each result names the SageMaker host it ran on, in the table and the log.
    assert {row["host"] for rows in trials.values() for row in rows} == {"algo-1"}
    assert re.search(r"trial_\w+ iteration 16 on algo-1: ", result.log)
    changed = [
        name
        for name, rows in trials.items()
        if len({(row["rl.training.lr"], row["rl.training.num_epochs"]) for row in rows}) > 1
    ]
    assert changed, "PBT changed no trial's settings"
    assert re.search(
        r"trial_\w+ continues from another trial's weights with rl\.training", result.log
    )
    assert (root / "output" / "data" / "tune_trials.png").stat().st_size > 10_000

    # The best trial is exported as a single job's policy is, named in metadata with its
    # settings, and it plays CartPole well above random.
    meta = read_json(root / "model" / "metadata.json")
    tune = meta["tune"]
    assert tune["trial"] in trials and tune["search"] == "pbt" and tune["trials"] == 4
    assert set(tune["settings"]) == set(SPACE)
    assert 0.0003 <= tune["settings"]["rl.training.lr"] <= 0.01 * 1.2**4
    assert (root / "model" / "checkpoint").is_dir()
    # Trials are ranked on the mean of their recent episodes (RLlib's own mean is NaN in an
    # iteration where no episode ended): the best one's last.
    recent = float(trials[tune["trial"]][-1]["recent_episode_return_mean"])
    assert tune["objective"] == pytest.approx(recent)
    lasts = [float(rows[-1]["recent_episode_return_mean"]) for rows in trials.values()]
    assert tune["objective"] == pytest.approx(max(x for x in lasts if x == x))
    played = greedy_onnx_return(root / "model", gym.make("CartPole-v1"))
    assert played > RANDOM_RETURN + 40, played

    # The best objective, in the line SageMaker's metric definitions (and a tuner) read.
    lines = [m for m in result.metric_lines() if "tune_best_objective" in m]
    assert lines and float(lines[-1]["tune_best_objective"]) == pytest.approx(
        tune["objective"], rel=1e-5
    )


def test_sigterm_mid_sweep_checkpoints_every_trial_and_a_restart_resumes_it(tmp_path):
    hyperparameters = {**SWEEP, "rl_stop_iterations": "9", "rl_checkpoint_frequency": "0"}
    root = make_job(tmp_path / "job", hyperparameters)
    log = tmp_path / "first.log"
    failure = sigterm_once_logged(root, log, " iteration 4 on ")
    assert failure.startswith("training interrupted by SIGTERM; the sweep's state")
    assert "Every running trial checkpointed" in log.read_text()
    assert not (root / "model" / "metadata.json").exists()
    before = {name: int(rows[-1]["iteration"]) for name, rows in trial_rows(root).items()}
    assert max(before.values()) >= 4

    # SageMaker restarts the job with the same checkpoints: the sweep goes on, each trial
    # from where it checkpointed, to the budget.
    make_job(root, hyperparameters)
    result = run_train(root, timeout=600)
    assert result.returncode == 0, result.log[-4000:]
    assert "Resuming the sweep in" in result.log
    resumed = re.findall(r"(trial_\w+) iteration (\d+) on ", result.log)
    firsts: dict[str, int] = {}
    for name, iteration in resumed:
        firsts.setdefault(name, int(iteration))
    # A trial resumed from its checkpoint, not from iteration 1.
    assert any(first > 1 for first in firsts.values()), firsts
    assert all(int(rows[-1]["iteration"]) == 9 for rows in trial_rows(root).values())
    assert read_json(root / "model" / "metadata.json")["tune"]["trials"] == 4


@pytest.mark.parametrize(
    ("hyperparameters", "message"),
    [
        (
            {"rl_tune_search": "pbt"},
            "hyperparameter rl_tune_search sets up a sweep: give rl_tune_space too, e.g. "
            '{"rl.training.lr": {"loguniform": [0.0001, 0.01]}}',
        ),
        (
            {"rl_tune_space": json.dumps({"rl.training.lrr": [0.1, 0.2]})},
            "hyperparameter rl_tune_space: rl.training.lrr: PPO has no setting 'lrr' in "
            "training() "
            "(did you mean lr?)",
        ),
        (
            {"rl_tune_space": json.dumps({"rl.training.lr": {"uniform": [0.1]}})},
            "hyperparameter rl_tune_space: rl.training.lr: uniform takes [low, high] with "
            "low < high, not [0.1]",
        ),
        (
            {
                "rl_tune_space": json.dumps({"rl.training.lr": {"uniform": [0.001, 0.01]}}),
                "rl_tune_search": "grid",
            },
            "hyperparameter rl_tune_space: rl.training.lr is a range, which "
            "rl_tune_search=grid cannot enumerate: give it a list of values",
        ),
    ],
)
def test_bad_sweep_settings_fail_in_one_line(tmp_path, hyperparameters, message):
    root = make_job(tmp_path / "job", hyperparameters)
    result = run_train(root)
    assert result.returncode != 0
    assert result.failure == message


BROKEN_ENV = '''
import gymnasium as gym
import numpy as np


class Env(gym.Env):
    """CartPole's spaces; its tenth step raises, as a user's env with a bug would."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, config=None):
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        return np.zeros(4, np.float32), {}

    def step(self, action):
        self.steps += 1
        if self.steps >= 10:
            raise RuntimeError("the simulator lost its state")
        return np.zeros(4, np.float32), 1.0, False, False, {}
'''


def test_a_sweep_whose_every_trial_fails_names_the_error_in_one_line(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    (source / "broken_sim.py").write_text(BROKEN_ENV)
    root = make_job(
        tmp_path / "job",
        {**SWEEP, "rl_tune_search": "random", "rl_tune_samples": "2", "rl_env": "broken_sim:Env"},
        source_dir=source,
    )
    result = run_train(root, timeout=300)
    assert result.returncode == 1, result.log[-3000:]
    failure = result.failure
    assert failure.startswith("every trial of the sweep failed; trial_"), failure
    assert "RuntimeError: the simulator lost its state" in failure
    assert "\n" not in failure.strip() and len(failure) < 1024
