"""CUDA variants, as far as a machine without a GPU can take them: the whole image builds (no
build step needs a GPU), carries the CUDA builds of its framework, and trains on the CPU when
no GPU is present. Downloads several GB of CUDA wheels, so it runs with `make test-cuda`,
not in the default suite."""

from __future__ import annotations

import json

import pytest

from conftest import QUICK_PPO, ROOT, build_image, docker, make_job, run_job

pytestmark = [pytest.mark.docker, pytest.mark.cuda_build]


@pytest.fixture(scope="module")
def torch_cuda_image() -> str:
    return build_image("ray-pytorch-cuda")


def test_torch_cuda_image_carries_the_cuda_build(torch_cuda_image):
    out = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        torch_cuda_image,
        "-c",
        "import json, torch; print(json.dumps([torch.__version__, torch.version.cuda,"
        " torch.cuda.is_available()]))",
    ).stdout
    version, cuda, available = json.loads(out.strip().splitlines()[-1])
    assert version.startswith("2.13.0") and "+cpu" not in version and cuda == "13.0"
    assert available is False  # no GPU here
    env = docker("inspect", "-f", "{{json .Config.Env}}", torch_cuda_image).stdout
    assert "NVIDIA_VISIBLE_DEVICES=all" in env
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", torch_cuda_image).stdout)
    assert labels["ai.sagemaker-rl.cuda-version"] == "13.0"


def test_torch_cuda_image_trains_on_cpu_without_a_gpu(torch_cuda_image, tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "1"})
    result = run_job(torch_cuda_image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert (root / "model" / "policy.onnx").exists()


def test_tensorflow_cuda_image_builds_and_imports():
    image = build_image("ray-tensorflow-cuda")
    out = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        image,
        "-c",
        "import tensorflow as tf; print(tf.__version__, tf.test.is_built_with_cuda())",
    ).stdout
    assert out.strip().splitlines()[-1] == "2.21.0 True"


def test_coach_tensorflow_cuda_image_builds_and_trains_on_cpu(tmp_path):
    """coach-mxnet-cuda is not built here: MXNet 1.5.1's CUDA build needs CUDA 10.1's
    libraries from its base image (see README)."""
    image = build_image("coach-tensorflow-cuda")
    out = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        image,
        "-c",
        "import tensorflow as tf; print(tf.__version__, tf.test.is_built_with_cuda())",
    ).stdout
    assert out.strip().splitlines()[-1] == "2.15.1 True"
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-knapsack-clippedppo"},
        source_dir=ROOT / "tests" / "coach" / "sources",
    )
    result = run_job(image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert (root / "model" / "1" / "saved_model.pb").exists()
