"""Atomic, self-describing checkpoints in `/opt/ml/checkpoints`.

SageMaker syncs this directory to S3 while the job runs and restores it when a (spot) job
restarts, so nothing partial may ever look like the newest checkpoint:
- the toolkit writes into a hidden `.partial-*` directory;
- a `checkpoint.json` manifest is written last, then the directory is renamed into place;
- only directories with a readable manifest count; leftovers of a crash are removed at start.
The toolkit decides whether a listed checkpoint actually restores; `Checkpoint.describe` and the
manifest give it what it needs to say which one it used or skipped.
"""

from __future__ import annotations

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
        if final.exists() and self._read_manifest(final) is not None:
            return Checkpoint(final, iteration, self._read_manifest(final) or {})
        staging = Path(tempfile.mkdtemp(prefix=f"{PARTIAL_PREFIX}{final.name}-", dir=self.root))
        try:
            written = write(staging) or {}
            full_manifest = {
                **manifest,
                **written,
                "iteration": iteration,
                "saved_at": time.time(),
            }
            manifest_path = staging / MANIFEST
            manifest_path.write_text(json.dumps(full_manifest, indent=2, default=str))
            _fsync_tree(staging)
            if final.exists():  # an invalid leftover under the final name
                shutil.rmtree(final)
            os.rename(staging, final)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._prune()
        return Checkpoint(final, iteration, full_manifest)

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

    def remove_partials(self) -> None:
        if not self.root.is_dir():
            return
        for entry in self.root.glob(f"{PARTIAL_PREFIX}*"):
            logger.info("Removing incomplete checkpoint %s left by an interrupted save", entry.name)
            shutil.rmtree(entry, ignore_errors=True)

    def _prune(self) -> None:
        for old in self.valid()[self.keep :]:
            shutil.rmtree(old.path, ignore_errors=True)

    @staticmethod
    def _read_manifest(directory: Path) -> dict[str, Any] | None:
        try:
            manifest = json.loads((directory / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None


def _fsync_tree(directory: Path) -> None:
    # The rename is the commit point: file contents must be on disk before it.
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
