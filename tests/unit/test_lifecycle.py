"""The job lifecycle both toolkits run through (lifecycle.py), with a small counting trainer in
place of a toolkit: resume, stop conditions, SIGTERM, health checks, checkpoints and export.
The real toolkits go through the same code in tests/training (Ray) and tests/image (Coach)."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest

from sagemaker_rl_container import signals
from sagemaker_rl_container.checkpoints import Checkpoint
from sagemaker_rl_container.contract import TrainingContract
from sagemaker_rl_container.errors import ExportFailed, TrainingInterrupted, UserError, export_step
from sagemaker_rl_container.lifecycle import Job, JobSettings, progress_line
from sagemaker_rl_container.metrics import IterationMetrics
from sagemaker_rl_container.stopping import StopConditions
from sagemaker_rl_container.toolkit import Trainer

STEPS_PER_ITERATION = 100


class CountingTrainer(Trainer):
    """Each iteration adds 100 env steps and one episode whose return is 10 x the iteration;
    its state is the iteration number, in a file."""

    title = "counting"

    def __init__(self, identity: dict[str, str] | None = None, iterations: int = 1000) -> None:
        self.identity = identity or {"algorithm": "count", "env": "numbers"}
        self.settings_digest = "digest-of-the-settings"
        self.iteration = 0
        self.iterations = iterations  # the toolkit's own loop ends here
        self.events: list[str] = []
        self.healthy_until: int | None = None
        self.on_iteration = None

    def start(self) -> None:
        self.events.append("start")

    def restore(self, checkpoint: Checkpoint) -> int:
        self.iteration = int((checkpoint.path / "state").read_text())
        self.events.append(f"restore {checkpoint.iteration}")
        return self.iteration

    def start_fresh(self) -> None:
        self.events.append("fresh")

    def progress(self) -> tuple[int, int]:
        return self.iteration, self.iteration * STEPS_PER_ITERATION

    def train(self, iteration_done) -> str:
        while self.iteration < self.iterations:
            self.iteration += 1
            if self.on_iteration:
                self.on_iteration(self.iteration)
            reason = iteration_done(metrics(self.iteration))
            if reason:
                return reason
        return "the toolkit's loop ended"

    def save(self, directory: Path) -> dict[str, Any]:
        (directory / "state").write_text(str(self.iteration))
        return {"counter": self.iteration}

    def export(self, model_dir: Path, training: dict[str, Any]) -> list[str]:
        (model_dir / "metadata.json").write_text(json.dumps(training))
        return ["metadata.json"]

    def check_health(self) -> None:
        if self.healthy_until is not None and self.iteration > self.healthy_until:
            raise UserError("host algo-2 left the cluster")

    def close(self, error: BaseException | None) -> None:
        self.events.append(f"close {type(error).__name__ if error else 'ok'}")


def metrics(iteration: int) -> IterationMetrics:
    return IterationMetrics(
        iteration=iteration,
        timesteps_total=iteration * STEPS_PER_ITERATION,
        episodes_total=iteration,
        episode_return_mean=10.0 * iteration,
        episode_return_min=10.0 * iteration,
        episode_return_max=10.0 * iteration,
        episode_len_mean=100.0,
        time_this_iter_s=0.01,
        time_total_s=0.01 * iteration,
        episodes_this_iter=1,
    )


@pytest.fixture
def contract(tmp_path) -> TrainingContract:
    contract = TrainingContract(
        base_dir=tmp_path,
        model_dir=tmp_path / "model",
        output_dir=tmp_path / "output",
        output_data_dir=tmp_path / "output" / "data",
        checkpoint_dir=tmp_path / "checkpoints",
        code_dir=tmp_path / "code",
        channels={},
        current_host="algo-1",
        hosts=["algo-1"],
        network_interface=None,
        num_cpus=2,
        num_gpus=0,
        hyperparameters={},
    )
    contract.ensure_output_dirs()
    return contract


@pytest.fixture(autouse=True)
def no_sigterm_pending():
    signals._received.clear()
    yield
    signals._received.clear()


def run(contract, trainer, frequency=2, keep=3, **stop):
    settings = JobSettings(frequency, keep, StopConditions(**stop))
    return Job(contract, trainer, settings).run()


def saved_iterations(contract) -> list[int]:
    return sorted(int(p.name.split("-")[1]) for p in contract.checkpoint_dir.glob("checkpoint-*"))


def test_a_fresh_job_trains_checkpoints_exports_and_summarizes(contract, capsys):
    trainer = CountingTrainer()
    summary = run(contract, trainer, frequency=2, keep=10, iterations=5)
    assert trainer.events == ["start", "fresh", "close ok"]
    assert summary.iterations == 5 and summary.timesteps == 500
    assert summary.stop_reason == "iteration 5 >= 5" and summary.resumed_from is None
    assert summary.episode_return_mean == 50.0 and math.isnan(summary.evaluation_return_mean)
    assert summary.exported == ["metadata.json"]
    # every second iteration, and the final one
    assert saved_iterations(contract) == [2, 4, 5]
    manifest = json.loads(
        (contract.checkpoint_dir / "checkpoint-000005/checkpoint.json").read_text()
    )
    assert manifest["algorithm"] == "count" and manifest["counter"] == 5
    assert manifest["timesteps"] == 500 and manifest["episode_return_mean"] == 50.0
    training = json.loads((contract.model_dir / "metadata.json").read_text())
    assert training["stop_reason"] == "iteration 5 >= 5" and training["hosts"] == 1
    out = capsys.readouterr().out
    assert out.count("[rl-metrics] ") == 5
    assert "Iteration 5: 500 env steps, return 50.0 (min 50.0, max 50.0)" in out
    assert (contract.output_data_dir / "training_curve.csv").read_text().count("\n") == 1 + 5


def test_a_restart_resumes_the_newest_checkpoint_and_continues_the_count(contract, capsys):
    run(contract, CountingTrainer(), frequency=1, iterations=3)
    capsys.readouterr()
    trainer = CountingTrainer()
    summary = run(contract, trainer, frequency=1, iterations=5)
    assert trainer.events == ["start", "restore 3", "close ok"]
    assert summary.resumed_from == "checkpoint-000003" and summary.iterations == 5
    lines = [
        line for line in capsys.readouterr().out.splitlines() if line.startswith("[rl-metrics] ")
    ]
    assert [line.split()[1] for line in lines] == ["iteration=4", "iteration=5"]


def test_a_target_met_before_the_restart_trains_no_more(contract):
    run(contract, CountingTrainer(), frequency=1, iterations=3)
    summary = run(contract, CountingTrainer(), frequency=1, iterations=3)
    assert summary.stop_reason == "iteration 3 >= 3, reached before this run"
    assert summary.iterations == 3


def test_an_unreadable_checkpoint_falls_back_and_none_usable_fails_in_one_line(contract, caplog):
    run(contract, CountingTrainer(), frequency=1, iterations=2)
    (contract.checkpoint_dir / "checkpoint-000002" / "state").write_text("garbage")
    trainer = CountingTrainer()
    run(contract, trainer, frequency=1, iterations=3)
    assert trainer.events[:2] == ["start", "restore 1"]
    # Its digests no longer match: refused before anything loads.
    assert (
        "Checkpoint checkpoint-000002 (iteration 2) is unusable: state has 7 bytes, its "
        "manifest says 1" in caplog.text
    )

    for path in contract.checkpoint_dir.glob("checkpoint-*/state"):
        path.write_text("garbage")
    trainer = CountingTrainer()
    with pytest.raises(UserError) as raised:
        run(contract, trainer, frequency=1, iterations=9)
    assert str(raised.value).startswith(f"no usable checkpoint in {contract.checkpoint_dir} (")
    assert "\n" not in str(raised.value)
    assert trainer.events[-1] == "close UserError"


def test_a_checkpoint_of_another_algorithm_or_env_is_not_resumed(contract):
    run(contract, CountingTrainer(), frequency=1, iterations=1)
    trainer = CountingTrainer(identity={"algorithm": "count", "env": "letters"})
    with pytest.raises(UserError, match="it holds count on numbers, this job trains count on "):
        run(contract, trainer, iterations=2)
    assert "restore 1" not in trainer.events


def test_sigterm_checkpoints_after_the_iteration_and_interrupts(contract):
    trainer = CountingTrainer()
    trainer.on_iteration = lambda i: signals._received.set() if i == 3 else None
    with pytest.raises(TrainingInterrupted, match="interrupted by SIGTERM after iteration 3; "):
        run(contract, trainer, frequency=0, iterations=100)
    assert saved_iterations(contract) == [3]
    assert trainer.events[-1] == "close TrainingInterrupted"
    assert not any(contract.model_dir.iterdir())


def test_a_failed_health_check_checkpoints_then_fails(contract):
    trainer = CountingTrainer()
    trainer.healthy_until = 2
    with pytest.raises(UserError, match="host algo-2 left the cluster"):
        run(contract, trainer, frequency=0, iterations=100)
    assert saved_iterations(contract) == [3]


def test_the_toolkits_own_loop_may_end_the_job(contract):
    summary = run(contract, CountingTrainer(iterations=4), frequency=0)
    assert summary.stop_reason == "the toolkit's loop ended" and summary.iterations == 4


def test_a_mean_return_stop_uses_the_recent_episodes(contract):
    summary = run(contract, CountingTrainer(), frequency=0, mean_return=200.0)
    # one episode per iteration: the last 10 (iterations 16 to 25) first average >= 200
    assert summary.iterations == 25
    assert summary.stop_reason.startswith("mean return 205 over the last 10 episodes >= 200")


def test_progress_line_names_the_targets_only_when_there_are_some():
    line = progress_line(metrics(2), StopConditions(iterations=5), 3.0)
    assert line.endswith("3 s elapsed; stop at iteration 2/5")
    assert progress_line(metrics(2), StopConditions(), 3.0).endswith("3 s elapsed")


def test_another_training_jobs_checkpoints_are_not_resumed(contract, caplog):
    # Two jobs given the same checkpoint_s3_uri: the second does not continue the first.
    first = dataclasses.replace(contract, job_name="ppo-2026-11-29-01")
    run(first, CountingTrainer(), frequency=1, iterations=3)
    second = dataclasses.replace(contract, job_name="ppo-2026-11-29-02")
    trainer = CountingTrainer()
    summary = run(second, trainer, frequency=1, keep=2, iterations=2)
    assert trainer.events == ["start", "fresh", "close ok"]
    assert summary.resumed_from is None and summary.iterations == 2
    assert "Not resuming the 3 checkpoint(s) of training job ppo-2026-11-29-01" in caplog.text
    # its own keep=2 pruned only its own checkpoints
    jobs = {
        p.name: json.loads((p / "checkpoint.json").read_text())["job"]
        for p in contract.checkpoint_dir.glob("checkpoint-*")
    }
    assert sorted(v for v in jobs.values()).count("ppo-2026-11-29-01") == 1  # iteration 3 kept
    assert list(jobs.values()).count("ppo-2026-11-29-02") == 2

    # A spot restart of the same job resumes its own, not the other's newer one.
    restarted = CountingTrainer()
    summary = run(second, restarted, frequency=1, iterations=4)
    assert summary.resumed_from == "checkpoint-000002"


def test_a_checkpoint_trained_with_other_settings_is_not_resumed(contract):
    run(contract, CountingTrainer(), frequency=1, iterations=1)
    trainer = CountingTrainer()
    trainer.settings_digest = "another-digest"
    with pytest.raises(UserError, match="it was trained with other settings"):
        run(contract, trainer, iterations=2)


def test_a_checkpoint_is_also_taken_when_enough_time_passed(contract, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("sagemaker_rl_container.lifecycle.time.monotonic", lambda: clock[0])
    trainer = CountingTrainer()
    trainer.on_iteration = lambda i: clock.__setitem__(0, clock[0] + 50)  # 50 s an iteration
    settings = JobSettings(0, 10, StopConditions(iterations=7), checkpoint_seconds=120)
    Job(contract, trainer, settings).run()
    # 150 s after the start (iteration 3), 150 s after that (6), and the final one (7)
    assert saved_iterations(contract) == [3, 6, 7]


def test_a_sigterm_while_starting_stops_before_training(contract):
    trainer = CountingTrainer()
    trainer.start = lambda: signals._received.set()
    with pytest.raises(TrainingInterrupted, match="while starting, before it trained"):
        run(contract, trainer, iterations=5)
    assert trainer.iteration == 0 and saved_iterations(contract) == []


def test_a_sigterm_during_the_final_checkpoint_stops_before_export(contract, monkeypatch):
    trainer = CountingTrainer()
    original = trainer.save

    def save_and_receive(directory):
        if trainer.iteration == 3:
            signals._received.set()
        return original(directory)

    trainer.save = save_and_receive
    with pytest.raises(
        TrainingInterrupted, match="after training, before export; checkpoint-000003"
    ):
        run(contract, trainer, frequency=0, iterations=3)
    assert not any(contract.model_dir.iterdir())


class ExportFailsTrainer(CountingTrainer):
    """Its export dies in a named step, as a full disk or an unexpected network would."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def export(self, model_dir: Path, training: dict[str, Any]) -> list[str]:
        with export_step("saving the counter as a model"):
            raise self.error


def test_a_failed_export_keeps_the_final_checkpoint_in_model_dir_and_names_the_step(contract):
    trainer = ExportFailsTrainer(OSError(28, "No space left on device"))
    with pytest.raises(ExportFailed) as failed:
        run(contract, trainer, iterations=3)
    line = str(failed.value)
    assert line.startswith(
        "export failed while saving the counter as a model: OSError: [Errno 28] No space left "
        "on device; nothing trained is lost: checkpoint-000003 (iteration 3) is in "
    ), line
    assert "\n" not in line
    kept = contract.model_dir / "checkpoint"
    assert (kept / "state").read_text() == "3"
    assert json.loads((kept / "checkpoint.json").read_text())["iteration"] == 3
    assert trainer.events[-1] == "close ExportFailed"


def test_a_user_error_in_export_is_kept_whole_and_says_where_the_training_is(contract):
    trainer = ExportFailsTrainer(UserError("rl_export_onnx=true, but the ONNX export failed"))
    with pytest.raises(ExportFailed, match=r"^rl_export_onnx=true, but the ONNX export failed; "):
        run(contract, trainer, iterations=2)
    assert (contract.model_dir / "checkpoint" / "state").read_text() == "2"


def test_an_exported_checkpoint_warm_starts_the_next_job(contract):
    run(contract, CountingTrainer(), iterations=4)
    kept = CountingTrainer().exported_checkpoint(contract.model_dir)
    assert kept is not None and kept.iteration == 4
    assert kept.manifest["algorithm"] == "count"
