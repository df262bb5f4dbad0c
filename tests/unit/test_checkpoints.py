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


def test_saving_an_existing_iteration_replaces_it_a_bad_copy_included(tmp_path):
    # A resumed job that skipped a damaged checkpoint-000005 trains iteration 5 again: its save
    # must not keep the damaged copy and log "saved".
    store = CheckpointStore(tmp_path / "checkpoints")
    first = store.save(5, write_state("first"), {"n": 1})
    (first.path / "state.txt").write_text("damaged")
    assert store.verify(first) == "state.txt has 7 bytes, its manifest says 5"
    again = store.save(5, write_state("second"), {"n": 2})
    assert again.path == first.path
    assert (again.path / "state.txt").read_text() == "second"
    assert json.loads((again.path / MANIFEST).read_text())["n"] == 2
    assert store.verify(again) is None


def test_files_are_listed_with_digests_and_staged_outside_the_synced_directory(tmp_path):
    root = tmp_path / "checkpoints"
    store = CheckpointStore(root)
    seen_during_write = []

    def write(directory):
        seen_during_write.append(sorted(p.name for p in root.iterdir()))
        (directory / "weights.bin").write_bytes(b"\x00" * 1000)
        (directory / "sub").mkdir()
        (directory / "sub" / "state.pkl").write_bytes(b"abc")

    saved = store.save(1, write, {})
    # SageMaker uploads /opt/ml/checkpoints as files appear: nothing half-written is there.
    assert seen_during_write == [[]]
    assert not list(root.glob(".*"))
    files = saved.manifest["files"]
    assert files["weights.bin"]["size"] == 1000 and len(files["weights.bin"]["sha256"]) == 64
    assert files["sub/state.pkl"] == {
        "size": 3,
        "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    }
    (saved.path / "sub" / "state.pkl").write_bytes(b"abd")  # same size, other content
    assert store.verify(saved) == "sub/state.pkl does not match the sha256 in its manifest"
    (saved.path / "weights.bin").unlink()
    assert store.verify(saved) == "sub/state.pkl does not match the sha256 in its manifest"
    (saved.path / "sub" / "state.pkl").write_bytes(b"abc")
    assert store.verify(saved) == "weights.bin is missing"


def test_pruning_keeps_another_jobs_checkpoints(tmp_path):
    store = CheckpointStore(tmp_path / "checkpoints", keep=1)
    theirs = store.save(9, write_state("theirs"), {"job": "job-a"})
    store.save(1, write_state("1"), {"job": "job-b"})
    store.save(2, write_state("2"), {"job": "job-b"})
    assert [c.iteration for c in store.valid()] == [9, 2]
    assert theirs.path.exists()
