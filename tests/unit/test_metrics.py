"""The metric line, the human progress line and SageMaker's MetricDefinitions agree."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import sagemaker_rl_container.metrics
from conftest import ROOT, SAGEMAKER_RL
from sagemaker_rl_container.metrics import (
    CORE_METRICS,
    LOSS_METRICS,
    IterationMetrics,
    metric_definitions,
    metrics_line,
    parse_line,
    parse_log,
    parse_value,
    ray1_metrics_line,
)
from sagemaker_rl_container.stopping import RecentReturns, StopConditions

SAMPLE = IterationMetrics(
    iteration=7,
    timesteps_total=28000,
    episodes_total=311,
    episode_return_mean=187.25,
    episode_return_min=21.0,
    episode_return_max=500.0,
    episode_len_mean=187.25,
    time_this_iter_s=4.2,
    time_total_s=29.8,
    losses={
        "total_loss": 1.5e-3,
        "policy_loss": -0.02,
        "vf_loss": 3.0,
        "entropy": 0.55,
    },
)


def test_every_definition_reads_its_value_from_the_metric_line():
    line = metrics_line(SAMPLE)
    found = {}
    for definition in metric_definitions():
        match = re.search(definition["Regex"], line)
        if match:
            found[definition["Name"]] = float(match.group(1))
    assert found["episode_reward_mean"] == found["episode_return_mean"] == 187.25
    assert found["iteration"] == 7
    assert found["timesteps_total"] == 28000
    assert found["policy_loss"] == -0.02
    assert found["total_loss"] == 1.5e-3
    assert set(found) == set(CORE_METRICS) | {
        "total_loss",
        "policy_loss",
        "vf_loss",
        "entropy",
    }


def test_no_metric_name_hides_inside_another():
    names = CORE_METRICS + LOSS_METRICS
    for name in names:
        assert not any(other != name and other.endswith(name) for other in names)


def test_nan_is_logged_as_nan_and_not_matched():
    line = metrics_line(IterationMetrics(1, 100, 0, math.nan, math.nan, math.nan, math.nan, 1, 1))
    assert "episode_return_mean=nan" in line
    regex = next(d["Regex"] for d in metric_definitions() if d["Name"] == "episode_return_mean")
    assert re.search(regex, line) is None


def test_cli_prints_the_definitions_as_json():
    out = subprocess.run(
        [str(SAGEMAKER_RL), "metric-definitions"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out) == metric_definitions()


def test_stop_conditions_report_reason_and_progress():
    stop = StopConditions(iterations=10, mean_return=150)
    stop.record(replace(SAMPLE, episodes_this_iter=12))
    assert (
        stop.reached(SAMPLE, elapsed_s=30) == "mean return 187.25 over the last 12 episodes >= 150"
    )
    assert StopConditions(iterations=7).reached(SAMPLE, 1) == "iteration 7 >= 7"
    assert StopConditions(timesteps=30000).reached(SAMPLE, 1) is None
    assert StopConditions(seconds=20).reached(SAMPLE, 25) == "25 s of training >= 20 s"
    assert stop.progress(SAMPLE, 30) == "return 187.2/150 (last 12 episodes), iteration 7/10"
    assert stop.describe() == "mean return >= 150 (over the last 10 episodes) or iteration 10"
    assert StopConditions(iterations=5).already_reached(5, 0) == "iteration 5 >= 5"


def test_a_log_line_reaches_stdout_in_one_write(monkeypatch):
    # print() writes text and newline separately: with unbuffered output, stderr or another
    # thread could land between them and corrupt the metric line SageMaker parses.
    from sagemaker_rl_container.metrics import print_line

    class Recorder:
        def __init__(self):
            self.writes = []

        def write(self, text):
            self.writes.append(text)

        def flush(self):
            pass

    recorder = Recorder()
    monkeypatch.setattr("sys.stdout", recorder)
    print_line("[rl-metrics] iteration=1 episode_return_mean=20.5")
    assert recorder.writes == ["[rl-metrics] iteration=1 episode_return_mean=20.5\n"]


def test_print_in_the_jobs_other_processes_writes_whole_lines(monkeypatch):
    # Coach's rollout workers print() to the container's stdout beside the head's metric
    # lines; unbuffered (as in the images), each print is two writes, and a metric line landing
    # between them no longer starts its line.
    import io

    from sagemaker_rl_container.metrics import write_whole_lines

    class RawRecorder(io.RawIOBase):
        def __init__(self):
            self.writes = []

        def writable(self):
            return True

        def write(self, data):
            self.writes.append(bytes(data))
            return len(data)

    raw = RawRecorder()
    unbuffered = io.TextIOWrapper(raw, write_through=True)  # what PYTHONUNBUFFERED gives
    monkeypatch.setattr("sys.stdout", unbuffered)
    print("Training> Name=main_level/agent, Episode=3, Total reward=21.0")
    assert raw.writes[-2:] == [
        b"Training> Name=main_level/agent, Episode=3, Total reward=21.0",
        b"\n",
    ]
    write_whole_lines()
    print("Training> Name=main_level/agent, Episode=4, Total reward=30.0")
    assert raw.writes[-1] == b"Training> Name=main_level/agent, Episode=4, Total reward=30.0\n"


def _iteration(mean: float, episodes: int | None) -> IterationMetrics:
    return replace(SAMPLE, episode_return_mean=mean, episodes_this_iter=episodes)


def test_a_lucky_episode_alone_does_not_reach_the_mean_return():
    # RLlib's mean covers the episodes that ended in the last iteration: one 500 after many
    # short ones is not a solved CartPole.
    stop = StopConditions(mean_return=450, recent=RecentReturns(episodes=10))
    stop.record(_iteration(100.0, 9))
    stop.record(_iteration(500.0, 1))
    assert stop.recent.count == 10
    assert stop.recent.mean == pytest.approx(140.0)
    assert stop.reached(SAMPLE, 1) is None
    assert stop.progress(SAMPLE, 1) == "return 140.0/450 (last 10 episodes)"
    # Iterations that no longer are needed to cover 10 episodes drop out, whole.
    for _ in range(3):
        stop.record(_iteration(480.0, 4))
    assert stop.recent.count == 12
    assert stop.recent.mean == pytest.approx(480.0)
    assert stop.reached(SAMPLE, 1) == "mean return 480 over the last 12 episodes >= 450"


def test_the_mean_return_waits_for_enough_episodes_and_skips_empty_iterations():
    stop = StopConditions(mean_return=10, recent=RecentReturns(episodes=3))
    stop.record(_iteration(50.0, 2))
    stop.record(_iteration(math.nan, 0))  # no episode ended in this iteration
    assert math.isnan(stop.recent.mean) and stop.reached(SAMPLE, 1) is None
    assert stop.progress(SAMPLE, 1) == "return -/10 (2 of 3 episodes finished)"
    stop.record(_iteration(20.0, 1))
    assert stop.recent.mean == pytest.approx(40.0)
    # A toolkit that reports no episode count: its mean stands for the whole window.
    unknown = RecentReturns(episodes=3)
    unknown.record(_iteration(70.0, None))
    assert unknown.mean == 70.0


def test_a_return_stop_waits_for_the_exported_policy_to_reach_it_too(caplog):
    evaluations = iter([(377.9, 10), (490.0, 10)])
    stop = StopConditions(mean_return=450, iterations=50, evaluate=lambda: next(evaluations))
    stop.record(_iteration(458.3, 11))
    with caplog.at_level("INFO"):
        assert stop.reached(SAMPLE, 1) is None  # iteration 7 of 50: nothing else applies
    assert "the policy as exported averaged 377.9 over 10 episodes" in caplog.text
    assert stop.evaluation == (377.9, 10)
    assert stop.reached(SAMPLE, 1) == (
        "mean return 458.3 over the last 11 episodes >= 450, and 490 in an evaluation of the "
        "policy as exported (10 episodes)"
    )
    assert stop.evaluation == (490.0, 10)
    # Below the target in training, nothing is evaluated.
    idle = StopConditions(mean_return=450, evaluate=lambda: pytest.fail("evaluated"))
    idle.record(_iteration(300.0, 20))
    assert idle.reached(SAMPLE, 1) is None


# The SageMaker Python SDK's RLEstimator.default_metric_definitions(RLToolkit.RAY), which the
# old sample notebooks' estimators and tuning jobs use (as documented by the SDK; the
# local-mode tests read them from the installed SDK itself).
SDK_FLOAT = "[-+]?[0-9]*[.]?[0-9]+([eE][-+]?[0-9]+)?"
SDK_RAY_DEFINITIONS = {
    "episode_reward_mean": f"episode_reward_mean: ({SDK_FLOAT})",
    "episode_reward_max": f"episode_reward_max: ({SDK_FLOAT})",
}


def test_the_sdks_default_ray_definitions_read_the_ray1_line():
    line = ray1_metrics_line(SAMPLE)
    assert line is not None and line.startswith("[rl-metrics-ray1] ")
    found = {
        name: float(re.search(regex, line).group(1)) for name, regex in SDK_RAY_DEFINITIONS.items()
    }
    assert found == {"episode_reward_mean": 187.25, "episode_reward_max": 500.0}
    # before any episode ends there is nothing to report, rather than a made-up 0
    assert (
        ray1_metrics_line(
            replace(
                SAMPLE,
                episode_return_mean=math.nan,
                episode_return_min=math.nan,
                episode_return_max=math.nan,
            )
        )
        is None
    )


def test_the_images_definitions_read_only_the_images_metric_lines():
    foreign = [
        # Coach's own episode log, and a user's print that happens to use the same names
        "Training> Name=main_level/agent, Worker=0, Episode=12, Total reward=31.0, Steps=402, Training iteration=3",
        "iteration=99 episode_return_mean=1234 time_total_s=5",
        ray1_metrics_line(SAMPLE),
    ]
    for definition in metric_definitions():
        for line in foreign:
            assert re.search(definition["Regex"], line) is None, (definition["Name"], line)
    # SageMaker local mode (docker-compose) prefixes every line with the host's name
    prefixed = "algo-1-x7k2p  | " + metrics_line(SAMPLE)
    iteration = next(d for d in metric_definitions() if d["Name"] == "iteration")
    assert re.search(iteration["Regex"], prefixed).group(1) == "7"


# ---- the parser: the writer's inverse, for tests, examples and benchmarks -----------------------


def test_a_written_line_parses_back_to_its_values():
    parsed = parse_line(metrics_line(SAMPLE))
    assert parsed == SAMPLE.values
    assert list(parsed) == list(SAMPLE.values)  # in the order written
    assert isinstance(parsed["iteration"], int) and isinstance(parsed["time_total_s"], float)
    # The written text, as it was, with raw=True.
    assert parse_line(metrics_line(SAMPLE), raw=True)["total_loss"] == "0.0015"


def test_nan_inf_and_exponents_parse_back_as_floats():
    odd = replace(
        SAMPLE,
        episode_return_mean=math.nan,
        episode_return_min=-math.inf,
        episode_return_max=math.inf,
        time_total_s=1234567.0,
        losses={"total_loss": 2.5e-7},
    )
    parsed = parse_line(metrics_line(odd))
    assert math.isnan(parsed["episode_return_mean"]) and math.isnan(parsed["episode_reward_mean"])
    assert parsed["episode_return_min"] == -math.inf and parsed["episode_return_max"] == math.inf
    assert parsed["time_total_s"] == 1.23457e6  # the 6 significant digits the line carries
    assert parsed["total_loss"] == 2.5e-7


def test_values_keep_their_text_unless_they_are_numbers():
    assert [parse_value(v) for v in ("7", "-3", "+2", "0.5", ".5", "1e+06", "nan", "-inf")] == [
        7,
        -3,
        2,
        0.5,
        0.5,
        1e6,
        pytest.approx(math.nan, nan_ok=True),
        -math.inf,
    ]
    assert [parse_value(v) for v in ("PPO", "1_000", "0x10", "1.2.3", "", "NaN")] == [
        "PPO",
        "1_000",
        "0x10",
        "1.2.3",
        "",
        "NaN",
    ]


def test_the_tag_may_follow_a_prefix():
    line = metrics_line(SAMPLE)
    for prefix in ("algo-1-x7k2p  | ", "2024-05-01T12:00:00.123Z ", "glued"):
        assert parse_line(prefix + line) == SAMPLE.values, prefix
    # CRLF (a tty), and words that are not fields (text glued after the line), are skipped.
    assert parse_line("[rl-metrics] iteration=3 time_total_s=1.5 (done)\r") == {
        "iteration": 3,
        "time_total_s": 1.5,
    }


def test_only_metric_lines_parse():
    foreign = [
        ray1_metrics_line(SAMPLE),  # its own tag
        "Training> Name=main_level/agent, Worker=0, Episode=12, Training iteration=3",
        "iteration=99 episode_return_mean=1234 time_total_s=5",
        "[rl-metrics]iteration=1",  # not the tag as a word
        "[RL-METRICS] iteration=1",
        "",
    ]
    for line in foreign:
        assert parse_line(line) is None, line
    assert parse_line("[rl-metrics]") == {}


def test_a_log_parses_to_its_metric_lines_in_order():
    second = replace(SAMPLE, iteration=8)
    log = "\n".join(
        [
            "Training PPO on CartPole-v1",
            metrics_line(SAMPLE),
            ray1_metrics_line(SAMPLE),
            "algo-1-x7k2p  | " + metrics_line(second),
            "",
        ]
    )
    assert [row["iteration"] for row in parse_log(log)] == [7, 8]
    assert [row["iteration"] for row in parse_log(log, raw=True)] == ["7", "8"]
    assert parse_log("") == []


STDLIB = set(sys.stdlib_module_names)


def test_the_parser_needs_only_the_standard_library():
    # examples/local.py loads metrics.py by its path where the package is not installed (the
    # examples run on a plain python3): it must import nothing else.
    tree = ast.parse(Path(sagemaker_rl_container.metrics.__file__).read_text())
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {
        node.module.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    }
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert imported <= STDLIB | {"__future__"} and not relative, imported - STDLIB


def test_the_examples_read_the_metric_lines_with_the_packages_parser(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("examples_local", ROOT / "examples" / "local.py")
    local = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, local)  # for its dataclasses
    monkeypatch.setattr(sys, "path", list(sys.path))  # it adds tools/ and entrypoint/src
    spec.loader.exec_module(local)
    log = "\n".join(["start", metrics_line(SAMPLE), ray1_metrics_line(SAMPLE), ""])
    (row,) = local.Job(tmp_path, 0, log).metrics
    assert row == SAMPLE.values and all(isinstance(value, float) for value in row.values())
    assert local.parse_line(metrics_line(SAMPLE))["iteration"] == 7
