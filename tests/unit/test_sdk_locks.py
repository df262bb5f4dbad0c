"""The SDK virtualenvs install from their locks: each lock must pin what its requirements ask."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.requirements import Requirement

SDK = Path(__file__).resolve().parents[1] / "sdk"


def pins(path: Path) -> dict[str, str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    found = {}
    for line in filter(None, lines):
        requirement = Requirement(line)
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{path.name}: {line} is not an exact pin"
        found[requirement.name.lower().replace("_", "-")] = specifier.version
    return found


@pytest.mark.parametrize("version", ["v2", "v3"])
def test_each_sdk_lock_pins_its_requirements(version):
    wanted = pins(SDK / f"requirements-sdk-{version}.txt")
    locked = pins(SDK / f"requirements-sdk-{version}.lock.txt")
    assert wanted and {name: locked.get(name) for name in wanted} == wanted
    assert len(locked) > len(wanted)  # the dependencies too: installed with --no-deps
