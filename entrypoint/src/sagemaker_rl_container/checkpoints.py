"""Atomic, verifiable checkpoints in `/opt/ml/checkpoints`.

SageMaker syncs this directory to S3 file by file while the job runs and copies it back when a
(spot) job restarts, so nothing partial may ever pass for a checkpoint:
- the toolkit writes into a staging directory beside `/opt/ml/checkpoints`, never inside it
  (SageMaker would upload the half-written files);
- a `checkpoint.json` manifest, written last, lists every file with its size and sha256, then
  the directory is renamed into place;
- a checkpoint counts only with a readable manifest, and restores only if its files match it
  (a half-synced copy, a truncated or overwritten file are refused before anything loads).
Trust: restoring a checkpoint loads pickled Python objects. The digests catch damage, not an
attacker: whoever can write the checkpoint location can run code in the job.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MANIFEST = "checkpoint.json"
PARTIAL_PREFIX = ".partial-"
NAME_PATTERN = re.compile(r"^checkpoint-(\d{6,})$")


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    iteration: int
    manifest: dict[str, Any]

    def describe(self) -> str:
        return f"{self.path.name} (iteration {self.iteration})"


class CheckpointStore:
    def __init__(self, root: Path, keep: int = 3) -> None:
        self.root = root
        self.keep = keep
        # Beside the checkpoint directory, on the same filesystem (the rename is atomic).
        self.staging_root = root.parent / f".{root.name}-staging"

    def save(
        self,
        iteration: int,
        write: Callable[[Path], dict[str, Any] | None],
        manifest: dict[str, Any],
    ) -> Checkpoint:
        """Write a checkpoint for `iteration` with `write(directory)`, which may return more
        manifest entries; returns the checkpoint once it is in place."""
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.root / f"checkpoint-{iteration:06d}"
        staging = self._staging_dir(final.name)
        try:
            written = write(staging) or {}
            full_manifest = {
                **manifest,
                **written,
                "iteration": iteration,
                "saved_at": time.time(),
                "files": _file_digests(staging),
            }
            manifest_path = staging / MANIFEST
            manifest_path.write_text(json.dumps(full_manifest, indent=2, default=str))
            _fsync_tree(staging)
            if final.exists():  # an earlier copy of this iteration, which resume did not use
                shutil.rmtree(final)
            self._move_into_place(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._prune(lambda checkpoint: _same_job(checkpoint.manifest, full_manifest))
        return Checkpoint(final, iteration, full_manifest)

    def _staging_dir(self, name: str) -> Path:
        try:
            self.staging_root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.staging_root))
        except OSError:  # no write access beside it: stage inside, hidden
            return Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{name}-", dir=self.root))

    @staticmethod
    def _move_into_place(staging: Path, final: Path) -> None:
        try:
            os.rename(staging, final)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            # /opt/ml/checkpoints on a filesystem of its own: stage inside it after all.
            inside = Path(
                tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{final.name}-", dir=final.parent)
            )
            shutil.rmtree(inside)
            shutil.copytree(staging, inside)
            _fsync_tree(inside)
            os.rename(inside, final)
            shutil.rmtree(staging, ignore_errors=True)

    def verify(self, checkpoint: Checkpoint) -> str | None:
        """Why `checkpoint`'s files do not match its manifest, or None when they do. A manifest
        without digests (written before they were recorded) is taken as it is."""
        files = checkpoint.manifest.get("files")
        if files is None:
            return None
        if not isinstance(files, dict):
            return f"its {MANIFEST} lists no files"
        for name, expected in sorted(files.items()):
            path = checkpoint.path / name
            if not path.is_file():
                return f"{name} is missing"
            size = path.stat().st_size
            if size != expected.get("size"):
                return f"{name} has {size} bytes, its manifest says {expected.get('size')}"
            if _sha256(path) != expected.get("sha256"):
                return f"{name} does not match the sha256 in its manifest"
        return None

    def valid(self) -> list[Checkpoint]:
        """Complete checkpoints, newest first."""
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            match = NAME_PATTERN.match(entry.name)
            if not match or not entry.is_dir():
                continue
            manifest = self._read_manifest(entry)
            if manifest is None:
                logger.warning("Ignoring checkpoint %s: no readable %s", entry, MANIFEST)
                continue
            found.append(Checkpoint(entry, int(match.group(1)), manifest))
        return sorted(found, key=lambda checkpoint: checkpoint.iteration, reverse=True)

    @classmethod
    def read(cls, directory: Path) -> Checkpoint | None:
        """`directory` as a checkpoint whatever its name (a channel holding one), if it has a
        manifest."""
        manifest = cls._read_manifest(directory)
        if manifest is None or not isinstance(manifest.get("iteration"), int):
            return None
        return Checkpoint(directory, manifest["iteration"], manifest)

    def remove_partials(self) -> None:
        """Remove what saves cut short by a crash left behind."""
        leftovers = list(self.root.glob(f"{PARTIAL_PREFIX}*")) if self.root.is_dir() else []
        if self.staging_root.is_dir():
            leftovers += list(self.staging_root.iterdir())
        for entry in leftovers:
            logger.info("Removing incomplete checkpoint %s left by an interrupted save", entry.name)
            shutil.rmtree(entry, ignore_errors=True)

    def _prune(self, mine: Callable[[Checkpoint], bool]) -> None:
        """Keep the newest `keep` of this job's checkpoints; another job's are not ours."""
        for old in [c for c in self.valid() if mine(c)][self.keep :]:
            shutil.rmtree(old.path, ignore_errors=True)

    @staticmethod
    def _read_manifest(directory: Path) -> dict[str, Any] | None:
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None


def _same_job(saved: dict[str, Any], ours: dict[str, Any]) -> bool:
    return saved.get("job") == ours.get("job")


def _file_digests(directory: Path) -> dict[str, dict[str, Any]]:
    return {
        str(path.relative_to(directory)): {"size": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.name != MANIFEST
    }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fsync_tree(directory: Path) -> None:
    # The rename is the commit point: file contents must be on disk before it.
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
