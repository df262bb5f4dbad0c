"""The docs stay true to the code: the hyperparameter reference is the one the config models
generate, the README stays short, and every link between the docs resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"), ROOT / "examples/README.md"])
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    found = set()
    for line in markdown.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            found.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return found


def test_the_hyperparameter_reference_is_generated_from_the_config_models():
    check = subprocess.run(
        [sys.executable, "tools/reference.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr


def test_a_stale_reference_is_noticed(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import reference
    finally:
        sys.path.pop(0)
    stale = tmp_path / "hyperparameters.md"
    stale.write_text(reference.render().replace("rl_stop_iterations", "rl_stop_iteration"))
    monkeypatch.setattr(reference, "TARGET", stale)
    monkeypatch.setattr(reference, "ROOT", tmp_path)
    assert reference.main(["--check"]) == 1


def test_the_readme_is_short_and_complete():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for topic in ("## Images", "## The two commands", "## Running on SageMaker", "## Read on"):
        assert topic in readme
    assert "_OUTPUT" not in readme  # the sample outputs are real runs' text


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(doc):
    for target in LINK.findall(doc.read_text()):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (doc.parent / path).resolve() if path else doc
        assert resolved.exists(), f"{doc.name}: {target} does not exist"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{doc.name}: no heading for #{anchor}"


def test_the_architecture_drawing_names_every_module_that_exists_and_no_other():
    text = (ROOT / "docs" / "development.md").read_text()
    section = text.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    drawing = section.split("```", 2)[1]
    named = set(re.findall(r"\b(sagemaker_rl(?:_container)?/[\w/]*\w\.py)\b", drawing))
    source = ROOT / "entrypoint" / "src"
    modules = {
        str(path.relative_to(source))
        for package in ("sagemaker_rl_container", "sagemaker_rl")
        for path in (source / package).rglob("*.py")
    }
    assert sorted(named - modules) == [], "the drawing names modules that are gone"
    assert sorted(modules - named) == [], "modules missing from the drawing"
