"""The image matrix: generated Dockerfiles match it, tags follow one scheme, locks are exact."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("matrix", ROOT / "tools" / "matrix.py")
matrix = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(matrix)
IMAGES = matrix.load()


def test_committed_dockerfiles_match_the_matrix():
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "matrix.py"), "generate", "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_check_notices_a_hand_edited_dockerfile(tmp_path, monkeypatch):
    image = IMAGES["ray-pytorch-cpu"]
    edited = tmp_path / image["dockerfile"]
    edited.parent.mkdir(parents=True)
    edited.write_text((ROOT / image["dockerfile"]).read_text() + "RUN echo hand-edited\n")
    monkeypatch.setattr(matrix, "ROOT", tmp_path)
    assert matrix.generate(check=True) == 1


def test_every_toolkit_framework_processor_combination_is_listed():
    combos = {(i["toolkit"], i["framework"], i["processor"]) for i in IMAGES.values()}
    assert {
        ("ray", "pytorch", "cpu"),
        ("ray", "pytorch", "cuda"),
        ("ray", "tensorflow", "cpu"),
        ("ray", "tensorflow", "cuda"),
        ("coach", "tensorflow", "cpu"),
        ("coach", "tensorflow", "cuda"),
        ("coach", "mxnet", "cpu"),
        ("coach", "mxnet", "cuda"),
    } <= combos


def test_tag_scheme():
    assert matrix.tags(IMAGES["ray-pytorch-cpu"]) == [
        "ray2.60-torch2.13-cpu-py311",
        "ray2.60-torch-cpu",
        "ray-torch-cpu",
    ]
    assert matrix.tags(IMAGES["ray-tensorflow-cuda"])[0] == "ray2.60-tf2.21-cu129-py311"
    assert matrix.tags(IMAGES["ray-pytorch-cuda"])[0] == "ray2.60-torch2.13-cu130-py311"
    assert matrix.tags(IMAGES["coach-tensorflow-cpu"])[0] == "coach1.0-tf2.15-cpu-py39"
    assert matrix.tags(IMAGES["coach-mxnet-cuda"])[0] == "coach1.0-mxnet1.9-cu117-py39"
    pattern = re.compile(r"^[a-z]+\d+\.\d+-[a-z]+\d+\.\d+-(cpu|cu\d+)-py\d+$")
    assert all(pattern.match(image["tag"]) for image in IMAGES.values())


@pytest.mark.parametrize("name", list(IMAGES))
def test_labels_and_dockerfile_carry_the_versions(name):
    image = IMAGES[name]
    labels = matrix.labels(image)
    assert labels["ai.sagemaker-rl.toolkit-version"] == image["toolkit_version"]
    assert labels["ai.sagemaker-rl.framework-version"] == image["framework_version"]
    assert labels["ai.sagemaker-rl.python-version"] == image["python"]
    text = (ROOT / image["dockerfile"]).read_text()
    assert f'ai.sagemaker-rl.framework-version="{image["framework_version"]}"' in text
    if image["processor"] == "cuda":
        assert "NVIDIA_VISIBLE_DEVICES=all" in text
    if image["framework"] == "tensorflow" and image["toolkit"] == "ray":
        assert "TF_USE_LEGACY_KERAS=1" in text


@pytest.mark.parametrize("name", list(IMAGES))
def test_locks_pin_exact_versions_with_hashes(name):
    lock = (ROOT / IMAGES[name]["lock"]).read_text()
    requirements = [line for line in lock.split("\n") if line and not line.startswith(("#", " "))]
    assert requirements
    for line in requirements:
        assert re.match(r"^[A-Za-z0-9_.\-\[\]]+==[^ ]+ \\$", line), line
    # Every requirement carries at least one hash (PyPI packages: every Linux x86_64 file of
    # the version, as the image's glibc may need another wheel than the resolving machine).
    assert lock.count("--hash=sha256:") >= len(requirements)
    for requirement in requirements:
        following = lock.split(requirement, 1)[1].split("\n")[1]
        assert following.strip().startswith("--hash=sha256:"), requirement
    # The framework itself is locked (torch is installed on its own, pinned in the matrix).
    framework = {
        "tensorflow": ("\ntensorflow==", "\ntensorflow-cpu=="),
        "pytorch": ("\nsympy==",),
        "mxnet": ("\nmxnet==", "\nmxnet-cu117=="),
    }[IMAGES[name]["framework"]]
    assert any(line in lock for line in framework)


def test_makefile_reads_the_matrix():
    out = subprocess.run(
        ["make", "-n", "build", "IMAGE=ray-tensorflow-cpu", "BASE_IMAGE=local/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "images/ray/tensorflow/cpu/Dockerfile" in out.stdout
    assert "sagemaker-rl:ray2.60-tf2.21-cpu-py311" in out.stdout
    bad = subprocess.run(
        ["make", "-n", "build", "IMAGE=nope"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "unknown IMAGE=nope" in bad.stderr


def test_coach_rows_take_their_python_and_base_from_the_toolkit_defaults():
    for name in ("coach-tensorflow-cpu", "coach-mxnet-cpu"):
        image = IMAGES[name]
        assert image["python"] == "3.9" and image["base_image"] == "python:3.9-slim-bullseye"
        assert image["stand_in_base"] == "local/stand-in-python:3.9-bullseye"
        assert image["debian_suite"] == "bullseye"
        text = (ROOT / image["dockerfile"]).read_text()
        assert "SAGEMAKER_RL_TOOLKIT=coach" in text
        assert "rl-coach-slim==1.0.0 --hash=sha256:" in text
    assert IMAGES["ray-pytorch-cpu"]["stand_in_base"] == "local/stand-in-python:3.11-bookworm"
    out = subprocess.run(
        ["make", "-n", "build", "IMAGE=coach-mxnet-cpu"], cwd=ROOT, capture_output=True, text=True
    )
    assert "tools/stand-in-base.sh local/stand-in-python:3.9-bullseye bullseye" in out.stdout
