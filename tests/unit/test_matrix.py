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
TRAINING = {name: image for name, image in IMAGES.items() if image["kind"] == "training"}
SERVING = {name: image for name, image in IMAGES.items() if image["kind"] == "serve"}


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
    combos = {(i["toolkit"], i["framework"], i["processor"]) for i in TRAINING.values()}
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
    assert all(pattern.match(image["tag"]) for image in TRAINING.values())
    assert matrix.tags(IMAGES["serve-onnx-cpu"]) == ["serve-onnx1.32-cpu-py311", "serve-onnx-cpu"]


@pytest.mark.parametrize("name", list(TRAINING))
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
    if name in SERVING:
        # The format's runtime is locked; no toolkit, and no framework but the runtime.
        runtime = IMAGES[name]["runtime"]
        assert f"\n{runtime}=={IMAGES[name]['runtime_version']} " in lock
        others = {"ray", "rl-coach-slim", "torch", "tensorflow", "mxnet", "sagemaker-training"}
        for package in others - {runtime}:
            assert not re.search(f"^{package}==", lock, re.M), package
        return
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


@pytest.mark.parametrize("name", list(SERVING))
def test_serve_only_images_carry_no_toolkit_run_as_a_user_and_say_what_they_serve(name):
    image = IMAGES[name]
    assert image["dockerfile"] == f"images/serve/{image['model_format']}/cpu/Dockerfile"
    labels = matrix.labels(image)
    assert labels["ai.sagemaker-rl.model-format"] == image["model_format"]
    assert labels["ai.sagemaker-rl.runtime-version"] == image["runtime_version"]
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    text = (ROOT / image["dockerfile"]).read_text()
    assert "\nUSER 1000:1000\n" in text and "SAGEMAKER_RL_SERVE_ONLY=1" in text
    assert 'CMD ["serve"]' in text and "SAGEMAKER_TRAINING_MODULE" not in text
    # The build-only packages are locked, and kept out of the image's venv.
    lock = (ROOT / image["lock"]).read_text()
    for package in image["build_packages"]:
        assert f"\n{package} " in lock
    assert "awk '/^(setuptools|wheel)==/ {skip = 1}" in text
