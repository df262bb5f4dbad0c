"""Checkpoints appear atomically; partial or unreadable ones never count as the newest."""

from __future__ import annotations

import json

import pytest

from sagemaker_rl_container.checkpoints import MANIFEST, CheckpointStore


def write_state(payload: str):
    def write(directory):
        (directory / "state.txt").write_text(payload)

    return write


def test_save_lists_newest_first_and_prunes(tmp_path):
    store = CheckpointStore(tmp_path, keep=2)
    for iteration in (1, 2, 3):
        store.save(iteration, write_state(f"it{iteration}"), {"algorithm": "PPO"})
    valid = store.valid()
    assert [c.iteration for c in valid] == [3, 2]
    assert (valid[0].path / "state.txt").read_text() == "it3"
    assert valid[0].manifest["algorithm"] == "PPO"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-000002",
        "checkpoint-000003",
    ]


def test_failed_write_leaves_no_checkpoint(tmp_path):
    store = CheckpointStore(tmp_path)
    store.save(1, write_state("ok"), {})

    def crash(directory):
        (directory / "half.bin").write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError):
        store.save(2, crash, {})
    assert [c.iteration for c in store.valid()] == [1]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-000001"]


def test_partials_and_unmarked_directories_are_ignored_and_cleaned(tmp_path):
    store = CheckpointStore(tmp_path)
    store.save(4, write_state("good"), {})
    (tmp_path / ".partial-checkpoint-000009-abc").mkdir()  # a save cut short by a crash
    (tmp_path / "checkpoint-000008").mkdir()  # no manifest
    (tmp_path / "checkpoint-000007").mkdir()
    (tmp_path / "checkpoint-000007" / MANIFEST).write_text("{trunc")  # unreadable manifest
    assert [c.iteration for c in store.valid()] == [4]
    store.remove_partials()
    assert not (tmp_path / ".partial-checkpoint-000009-abc").exists()


def test_saving_an_existing_iteration_keeps_it(tmp_path):
    store = CheckpointStore(tmp_path)
    first = store.save(5, write_state("first"), {"n": 1})
    again = store.save(5, write_state("second"), {"n": 2})
    assert again.path == first.path
    assert (first.path / "state.txt").read_text() == "first"
    assert json.loads((first.path / MANIFEST).read_text())["n"] == 1
