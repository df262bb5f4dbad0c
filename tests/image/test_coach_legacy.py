"""Coach code written for the archived SageMaker RL containers, run unchanged on the Coach
image: an entry script on the notebooks' `sagemaker_rl.coach_launcher` that picks its preset
and maps friendly hyperparameter names (one a bool given as the text `False`), beside its own
uploaded copy of `sagemaker_rl/` (the test sources are our own, in the notebooks' style)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import ROOT, build_image, make_job, read_json, run_job

pytestmark = pytest.mark.docker

SOURCES = ROOT / "tests" / "coach" / "sources"

ENTRY_SCRIPT = """\
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher


class MyLauncher(SageMakerCoachPresetLauncher):
    def default_preset_name(self):
        return "preset-cartpole-clippedppo"

    def map_hyperparameter(self, name, value):
        mapping = {
            "discount": "rl.agent_params.algorithm.discount",
            "use_gae": "rl.agent_params.algorithm.estimate_state_value_using_gae",
            "improve_steps": "rl.improve_steps:EnvironmentSteps",
        }
        if name in mapping:
            self.apply_hyperparameter(mapping[name], value)
        else:
            super().map_hyperparameter(name, value)


if __name__ == "__main__":
    MyLauncher.train_main()
"""


@pytest.fixture(scope="module")
def image() -> str:
    return build_image("coach-tensorflow-cpu")


def write_source(source: Path) -> Path:
    shutil.copytree(SOURCES, source)
    (source / "train-coach.py").write_text(ENTRY_SCRIPT)
    # The notebooks uploaded their copy of the old package beside the entry script.
    (source / "sagemaker_rl").mkdir()
    (source / "sagemaker_rl" / "__init__.py").write_text("")
    (source / "sagemaker_rl" / "coach_launcher.py").write_text(
        "raise ImportError('the uploaded copy of sagemaker_rl.coach_launcher was imported')\n"
    )
    return source


@pytest.fixture
def source(tmp_path) -> Path:
    return write_source(tmp_path / "src")


@pytest.fixture(scope="module")
def old_script_job(image, tmp_path_factory):
    base = tmp_path_factory.mktemp("old-script")
    root = make_job(
        base / "job",
        {"discount": "0.95", "use_gae": "False", "improve_steps": "4096", "save_model": "1"},
        source_dir=write_source(base / "src"),
        program="train-coach.py",
    )
    return run_job(image, root, timeout=600)


def test_an_old_entry_script_picks_its_preset_and_maps_its_hyperparameters(old_script_job):
    result = old_script_job
    assert result.returncode == 0, result.log[-4000:]
    assert result.succeeded
    assert "Override rl.agent_params.algorithm.discount = 0.95" in result.log
    # A bool given as text is a bool, not the truthy string 'False'.
    assert "Override rl.agent_params.algorithm.estimate_state_value_using_gae = False" in (
        result.log
    )
    assert "is not used for coach_launcher.py" in result.log
    # 4096 environment steps at 2048 per evaluation period: two iterations.
    assert [m["iteration"] for m in result.metric_lines()] == ["1", "2"]
    meta = read_json(result.root / "model" / "metadata.json")
    assert meta["preset"] == "preset-cartpole-clippedppo"
    # The last evaluation period's return, as the metric lines reported it.
    last = result.metric_lines()[-1]
    assert meta["training"]["evaluation_return_mean"] == pytest.approx(
        float(last["evaluation_return_mean"])
    )
    assert meta["training"]["evaluation_episodes"] == int(last["evaluation_episodes"])
    assert (result.root / "model" / "1" / "saved_model.pb").exists()


def test_a_checkpoint_channel_warm_starts_a_coach_job(image, old_script_job, source, tmp_path):
    assert old_script_job.returncode == 0
    root = make_job(
        tmp_path / "job",
        {"improve_steps": "6144"},
        source_dir=source,
        program="train-coach.py",
        channels={"checkpoint": old_script_job.root / "checkpoints" / "checkpoint-000002"},
    )
    result = run_job(image, root, timeout=600)
    assert result.returncode == 0, result.log[-4000:]
    assert "Warm start from input channel 'checkpoint'" in result.log
    # 4096 of the 6144 steps came with the checkpoint: one more evaluation period.
    assert [m["iteration"] for m in result.metric_lines()] == ["3"]


def test_a_hyperparameter_the_script_does_not_map_fails_with_one_line(image, source, tmp_path):
    root = make_job(
        tmp_path / "job", {"discont": "0.9"}, source_dir=source, program="train-coach.py"
    )
    result = run_job(image, root, timeout=300)
    assert result.returncode == 1
    assert result.failure == (
        "unknown hyperparameter discont: map it onto a preset attribute in "
        "MyLauncher.map_hyperparameter(), or name the attribute itself (rl.<path>[:Type], "
        "e.g. rl.agent_params.algorithm.discount)"
    )


def test_a_preset_that_dumps_gifs_renders_them_into_output_data(image, source, tmp_path):
    # As the examples wrote such presets: their own VisualizationParameters with dump_gifs.
    preset = (source / "preset-cartpole-dqn.py").read_text()
    preset = preset.replace(
        "    schedule_params=schedule_params,\n)",
        "    schedule_params=schedule_params,\n    vis_params=vis_params,\n)",
    )
    preset = preset.replace(
        "schedule_params = ScheduleParameters()",
        "from rl_coach.base_parameters import VisualizationParameters\n\n"
        "vis_params = VisualizationParameters()\nvis_params.dump_gifs = True\n"
        "schedule_params = ScheduleParameters()",
    )
    (source / "preset-cartpole-gifs.py").write_text(preset)
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-cartpole-gifs", "improve_steps": "2000"},
        source_dir=source,
        program="train-coach.py",
    )
    result = run_job(image, root, timeout=600)
    assert result.returncode == 0, result.log[-4000:]
    assert "a virtual display (Xvfb :93) draws its frames" in result.log
    gifs = list((root / "output" / "data" / "coach" / "gifs").glob("*.gif"))
    assert gifs and all(gif.read_bytes()[:6] in (b"GIF87a", b"GIF89a") for gif in gifs)
    # The rendering window closes before Python's shutdown, not in a traceback after success.
    assert "Traceback" not in result.log, result.log[-4000:]


TIMED_CORRIDOR = """\
import gym
import numpy as np
from gym.wrappers import TimeLimit


class Corridor(gym.Env):
    def __init__(self):
        self.observation_space = gym.spaces.Box(0.0, 10.0, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0

    def reset(self):
        self.position = 0
        return np.array([self.position], np.float32)

    def step(self, action):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        done = self.position >= 10
        return np.array([self.position], np.float32), 1.0 if done else -0.1, done, {}


def timed_corridor():
    # gym <= 0.11 style: a spec-less env under TimeLimit, with a wall-clock limit too.
    return TimeLimit(Corridor(), max_episode_steps=30, max_episode_seconds=60)
"""


def test_an_environment_module_written_for_older_gym_runs(image, source, tmp_path):
    (source / "corridor_env.py").write_text(TIMED_CORRIDOR)
    preset = (source / "preset-cartpole-dqn.py").read_text()
    preset = preset.replace('level="CartPole-v0"', 'level="corridor_env:timed_corridor"')
    (source / "preset-corridor-dqn.py").write_text(preset)
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-corridor-dqn", "improve_steps": "1000"},
        source_dir=source,
        program="train-coach.py",
    )
    result = run_job(image, root, timeout=600)
    assert result.returncode == 0, result.log[-4000:]
    lengths = [float(m["episode_len_mean"]) for m in result.metric_lines()]
    assert lengths and all(0 < n <= 30 for n in lengths)  # the TimeLimit held


def test_an_error_inside_the_environment_ends_in_one_line_naming_its_file(image, source, tmp_path):
    broken = TIMED_CORRIDOR.replace(
        "        self.position = max(0,",
        "        if self.position > 2:\n            raise ValueError('the corridor collapsed')\n"
        "        self.position = max(0,",
    )
    (source / "corridor_env.py").write_text(broken)
    preset = (source / "preset-cartpole-dqn.py").read_text()
    preset = preset.replace('level="CartPole-v0"', 'level="corridor_env:timed_corridor"')
    (source / "preset-corridor-dqn.py").write_text(preset)
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-corridor-dqn"},
        source_dir=source,
        program="train-coach.py",
    )
    result = run_job(image, root, timeout=600)
    assert result.returncode == 1
    assert result.failure.startswith(
        "training failed: ValueError: the corridor collapsed (at corridor_env.py:"
    ), result.failure
    assert "\n" not in result.failure
    assert "Traceback" in result.log  # the whole story stays in the log
