"""The package's layout stays layered: no module imports another that (directly or through
others) imports it back, and the settings modules depend on nothing that runs a job."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "sagemaker_rl_container"
SOURCE = Path(__file__).resolve().parents[2] / "entrypoint" / "src" / PACKAGE

# Parsing and validating settings must not pull in what runs a job (lifecycle, trainers).
SETTINGS_MODULES = {
    f"{PACKAGE}.config": {f"{PACKAGE}.errors"},
    f"{PACKAGE}.coach.config": {
        f"{PACKAGE}.errors",
        f"{PACKAGE}.config",
        f"{PACKAGE}.coach.overrides",
    },
    f"{PACKAGE}.contract": {f"{PACKAGE}.errors"},
    f"{PACKAGE}.errors": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every module of the package -> the package modules it imports, at the top or inside a
    function alike (a lazy import is still a dependency)."""
    modules = {module_name(path): path for path in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import module` names a module; `from module import name` does not.
                names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
            else:
                continue
            for imported in names:
                if imported in modules and imported != name and imported != PACKAGE:
                    targets.add(imported)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in visiting:
            return [*visiting[visiting.index(node) :], node]
        if node in done:
            return None
        visiting.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        visiting.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_one():
    # The check above must be able to fail.
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", sorted(SETTINGS_MODULES))
def test_settings_modules_depend_on_settings_only(module):
    assert import_graph()[module] <= SETTINGS_MODULES[module]


def test_both_toolkits_run_through_the_one_lifecycle():
    graph = import_graph()
    # Each toolkit's Trainer implements the one interface, and each toolkit's job runs on Job.
    assert f"{PACKAGE}.toolkit" in graph[f"{PACKAGE}.ray_rllib.trainer"]
    assert f"{PACKAGE}.toolkit" in graph[f"{PACKAGE}.coach.trainer"]
    assert f"{PACKAGE}.lifecycle" in graph[f"{PACKAGE}.ray_rllib.trainer"]
    assert f"{PACKAGE}.lifecycle" in graph[f"{PACKAGE}.coach.job"]
    # The lifecycle, its interface and where a job resumes know no toolkit.
    for module in ("lifecycle", "toolkit", "resume"):
        imported = graph[f"{PACKAGE}.{module}"]
        assert not {m for m in imported if ".ray_rllib" in m or ".coach" in m}, module


def test_the_package_checks_its_invariants_without_assert():
    # `python -O` strips assert statements: an invariant of a job must be a real check.
    asserts = [
        f"{path.relative_to(SOURCE.parent)}:{node.lineno}"
        for path in sorted(SOURCE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Assert)
    ]
    assert asserts == []
