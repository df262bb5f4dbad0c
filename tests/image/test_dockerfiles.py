"""Static checks of the Dockerfiles (no engine needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = sorted(ROOT.glob("images/**/Dockerfile"))
HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_hadolint_passes(dockerfile):
    result = subprocess.run([str(HADOLINT), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_default_base_is_a_public_image_and_no_syntax_line(dockerfile):
    text = dockerfile.read_text()
    assert "ARG BASE_IMAGE=python:" in text
    # A `# syntax=` line makes BuildKit fetch a frontend image: builds must work offline.
    assert "# syntax" not in text
    assert "FROM ${BASE_IMAGE}" in text
