"""Each `make test*` target collects what README.md and docs/development.md say it runs.

A -m on pytest's command line replaces pytest.ini's (`make test-fast` once ran the fault tests
that way, and rewrote tests/faults/RESULTS.md). For every target this takes the pytest command
`make -n` prints, runs it with --collect-only through PYTEST_ARGS (so that passing through is
checked too) and a small plugin that records each collected item's markers, and compares the
selection with the markers of every test in the tree.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(sys.prefix)
TARGETS = ("test", "test-fast", "test-cuda", "test-faults", "test-catalogue")
OPT_IN = {"cuda_build", "faults", "catalogue"}  # each only in its own target
SHORT_FORM = "tests/catalogue/test_catalogue.py::test_catalogue_short_form["

PLUGIN = """
import json
import os

_deselected = []


def pytest_deselected(items):
    _deselected.extend(items)


def pytest_collection_finish(session):
    def markers(items):
        return {item.nodeid: sorted({m.name for m in item.iter_markers()}) for item in items}

    with open(os.environ["MAKE_TARGETS_REPORT"], "w") as out:
        json.dump({"selected": markers(session.items), "deselected": markers(_deselected)}, out)
"""

# What the caller's own make or pytest would otherwise pass on to the ones run here.
INHERITED = ("MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES", "MAKELEVEL", "PYTEST_ARGS", "PYTEST_ADDOPTS")


def pytest_command(target: str, pytest_args: str) -> str:
    """The one pytest command line `make TARGET` runs (its shell line, continuations joined)."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    printed = subprocess.run(
        ["make", "-n", "--no-print-directory", "-o", f"{VENV}/.installed", target,
         f"VENV={VENV}", f"PYTEST_ARGS={pytest_args}"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    lines = printed.stdout.replace("\\\n", " ").splitlines()
    runs = [line for line in lines if re.search(r"(^|\s)\S*/bin/pytest(\s|$)", line)]
    assert len(runs) == 1, f"make {target} runs pytest {len(runs)} times:\n{printed.stdout}"
    return runs[0]


def collect(target: str, workdir: Path) -> dict:
    report = workdir / f"{target}.json"
    pytest_args = "--collect-only -q -p no:cacheprovider -p _make_targets_probe"
    command = pytest_command(target, pytest_args)
    assert shlex.split(command)[-len(pytest_args.split()) :] == pytest_args.split(), command
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(workdir), env.get("PYTHONPATH")]))
    env["MAKE_TARGETS_REPORT"] = str(report)
    ran = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    # 0: collected without errors (5 would be: nothing selected).
    assert ran.returncode == 0, f"make {target}: {command}\n{ran.stdout[-3000:]}{ran.stderr}"
    collected = json.loads(report.read_text())
    return {
        "command": command,
        "selected": {k: set(v) for k, v in collected["selected"].items()},
        "deselected": {k: set(v) for k, v in collected["deselected"].items()},
    }


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> dict[str, dict]:
    workdir = tmp_path_factory.mktemp("make_targets")
    (workdir / "_make_targets_probe.py").write_text(PLUGIN)
    with ThreadPoolExecutor(max_workers=len(TARGETS)) as pool:
        runs = pool.map(lambda target: collect(target, workdir), TARGETS)
        return dict(zip(TARGETS, runs, strict=True))


@pytest.fixture(scope="module")
def every_test(collected) -> dict[str, set[str]]:
    """Every test under tests/ with its markers: what the default suite selects or deselects."""
    every = {**collected["test"]["selected"], **collected["test"]["deselected"]}
    fast = {**collected["test-fast"]["selected"], **collected["test-fast"]["deselected"]}
    assert every == fast
    return every


def with_markers(every_test, wanted) -> set[str]:
    return {node for node, markers in every_test.items() if wanted(markers)}


def assert_selects(collected, target: str, expected: set[str]) -> set[str]:
    selected = set(collected[target]["selected"])
    extra, missing = sorted(selected - expected), sorted(expected - selected)
    assert not extra and not missing, (
        f"make {target} ({collected[target]['command'].strip()}) selects {len(extra)} tests it "
        f"should not, e.g. {extra[:5]}, and misses {len(missing)}, e.g. {missing[:5]}"
    )
    assert selected, f"make {target} selects nothing"
    return selected


def test_every_target_passes_pytest_args_through(collected):
    for target, run in collected.items():
        assert run["command"].endswith("-p _make_targets_probe"), (target, run["command"])


def test_make_test_is_the_default_suite(collected, every_test):
    selected = assert_selects(collected, "test", with_markers(every_test, lambda m: not m & OPT_IN))
    assert any(node.startswith("tests/unit/") for node in selected)
    assert any(node.startswith("tests/training/test_bad_input.py::") for node in selected)
    assert any("docker" in every_test[node] for node in selected)
    # The catalogue's short form runs here, the catalogue itself does not.
    assert any(node.startswith(SHORT_FORM) for node in selected)


def test_make_test_fast_is_the_default_suite_without_docker(collected, every_test):
    selected = assert_selects(
        collected, "test-fast", with_markers(every_test, lambda m: not m & (OPT_IN | {"docker"}))
    )
    assert any(node.startswith("tests/unit/") for node in selected)
    assert any(node.startswith("tests/training/") for node in selected)
    assert not any(node.startswith(SHORT_FORM) for node in selected)


def test_make_test_faults_is_the_fault_tests(collected, every_test):
    selected = assert_selects(
        collected, "test-faults", with_markers(every_test, lambda m: "faults" in m)
    )
    # the seeded kills and SIGTERMs, the Coach two-host job's, the MXNet runs of the Coach
    # checkpoint faults, and a Ray worker with a learner lost
    assert {node.split("::")[0] for node in selected} == {
        "tests/faults/test_faults.py",
        "tests/image/test_coach_distributed.py",
        "tests/image/test_coach.py",
        "tests/cluster/test_two_hosts.py",
    }
    assert all("mxnet" in node for node in selected if node.startswith("tests/image/test_coach.py"))


def test_make_test_catalogue_is_the_whole_catalogue(collected, every_test):
    selected = assert_selects(
        collected, "test-catalogue", with_markers(every_test, lambda m: "catalogue" in m)
    )
    # every row, and the MXNet run of the SDK's continuous-action Coach preset
    assert all(
        node.startswith("tests/catalogue/") or "coach-mxnet-cpu" in node for node in selected
    )
    assert not any(node.startswith(SHORT_FORM) for node in selected)


def test_make_test_cuda_is_the_cuda_builds(collected, every_test):
    selected = assert_selects(
        collected, "test-cuda", with_markers(every_test, lambda m: "cuda_build" in m)
    )
    assert all(node.startswith("tests/image/test_cuda.py::") for node in selected)
