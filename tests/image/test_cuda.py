"""CUDA variants, as far as a machine without a GPU can take them: the whole image builds (no
build step needs a GPU), carries the CUDA builds of its framework, and trains on the CPU when
no GPU is present. Downloads several GB of CUDA wheels, so it runs with `make test-cuda`,
not in the default suite."""

from __future__ import annotations

import json

import pytest

from conftest import QUICK_PPO, ROOT, build_image, docker, make_job, matrix_get, run_job

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
    expected = matrix_get("ray-pytorch-cuda", "framework_version")
    cuda_version = matrix_get("ray-pytorch-cuda", "cuda_version")
    assert version.startswith(expected) and "+cpu" not in version and cuda == cuda_version
    assert available is False  # no GPU here
    env = docker("inspect", "-f", "{{json .Config.Env}}", torch_cuda_image).stdout
    assert "NVIDIA_VISIBLE_DEVICES=all" in env
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", torch_cuda_image).stdout)
    assert labels["ai.sagemaker-rl.cuda-version"] == cuda_version


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
    expected = matrix_get("ray-tensorflow-cuda", "framework_version")
    assert out.strip().splitlines()[-1] == f"{expected} True"


def test_coach_tensorflow_cuda_image_builds_and_trains_on_cpu(tmp_path):
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
    expected = matrix_get("coach-tensorflow-cuda", "framework_version")
    assert out.strip().splitlines()[-1] == f"{expected} True"
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-knapsack-clippedppo"},
        source_dir=ROOT / "tests" / "coach" / "sources",
    )
    result = run_job(image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert (root / "model" / "1" / "saved_model.pb").exists()


# MXNet's CUDA build links the NVIDIA driver's libcuda.so.1 (torch and TensorFlow load it only
# when asked for a GPU): on a GPU host the NVIDIA container runtime mounts it, here a stub stands
# in for it, with the ten driver functions libmxnet.so 1.9.1 imports, each answering "no device".
DRIVER_STUB = r"""
#define NO_DEVICE 100 /* CUDA_ERROR_NO_DEVICE */
int cuDeviceGet(void) { return NO_DEVICE; }
int cuDevicePrimaryCtxRetain(void) { return NO_DEVICE; }
int cuGetErrorString(int error, const char **text) { *text = "no CUDA driver (stub)"; return 0; }
int cuGraphKernelNodeGetParams(void) { return NO_DEVICE; }
int cuGraphNodeGetType(void) { return NO_DEVICE; }
int cuLaunchKernel(void) { return NO_DEVICE; }
int cuModuleGetFunction(void) { return NO_DEVICE; }
int cuModuleLoadData(void) { return NO_DEVICE; }
int cuModuleLoadDataEx(void) { return NO_DEVICE; }
int cuModuleUnload(void) { return NO_DEVICE; }
"""


@pytest.fixture(scope="module")
def mxnet_cuda_image(tmp_path_factory) -> tuple[str, list[str]]:
    """The image, and the `docker run` arguments that give it the driver stub."""
    name = "coach-mxnet-cuda"
    image = build_image(name)
    stub = tmp_path_factory.mktemp("driver-stub")
    (stub / "stub.c").write_text(DRIVER_STUB)
    # Compiled in the image's own build stage (cached): gcc is there, not in the image.
    stage = docker(
        "build",
        "-q",
        "--target",
        "dependencies",
        "--build-arg",
        f"BASE_IMAGE={matrix_get(name, 'stand_in_base')}",
        "-f",
        str(ROOT / matrix_get(name, "dockerfile")),
        str(ROOT),
        timeout=1500,
    ).stdout.strip()
    docker(
        "run", "--rm", "-v", f"{stub}:/stub", "--entrypoint", "gcc", stage,
        "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", "/stub/libcuda.so.1", "/stub/stub.c",
    )  # fmt: skip
    env = json.loads(docker("inspect", "-f", "{{json .Config.Env}}", image).stdout)
    library_path = next(e.split("=", 1)[1] for e in env if e.startswith("LD_LIBRARY_PATH="))
    return image, [
        "-v",
        f"{stub}:/opt/driver-stub:ro",
        "-e",
        f"LD_LIBRARY_PATH={library_path}:/opt/driver-stub",
    ]


def test_mxnet_cuda_image_carries_the_cuda_build(mxnet_cuda_image):
    image, driver = mxnet_cuda_image
    # Every library libmxnet.so links comes with the image (NVIDIA's CUDA 11.7 wheels) but the
    # driver's; without a driver MXNet's CUDA build does not load, and says which library.
    missing = docker(
        "run",
        "--rm",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "ldd /opt/venv/lib/python3.9/site-packages/mxnet/libmxnet.so | grep 'not found' || true",
    ).stdout.split()
    assert missing == ["libcuda.so.1", "=>", "not", "found"]
    bare = docker("run", "--rm", "--entrypoint", "python", image, "-c", "import mxnet", check=False)
    assert bare.returncode != 0 and "libcuda.so.1" in bare.stderr
    out = docker(
        "run",
        "--rm",
        *driver,
        "--entrypoint",
        "python",
        image,
        "-c",
        "import json, mxnet as mx; features = mx.runtime.Features();"
        " print(json.dumps([mx.__version__, [f for f in ('CUDA', 'CUDNN', 'NCCL')"
        " if features.is_enabled(f)], mx.context.num_gpus()]))",
    ).stdout
    version, features, gpus = json.loads(out.strip().splitlines()[-1])
    expected = matrix_get("coach-mxnet-cuda", "framework_version")
    assert version == expected and features == ["CUDA", "CUDNN", "NCCL"]
    assert gpus == 0  # no GPU here
    env = docker("inspect", "-f", "{{json .Config.Env}}", image).stdout
    assert "NVIDIA_VISIBLE_DEVICES=all" in env
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", image).stdout)
    assert labels["ai.sagemaker-rl.cuda-version"] == "11.7"


def test_mxnet_cuda_image_trains_on_cpu_and_exports(mxnet_cuda_image, tmp_path):
    image, driver = mxnet_cuda_image
    root = make_job(
        tmp_path / "job",
        {"RLCOACH_PRESET": "preset-knapsack-clippedppo"},
        source_dir=ROOT / "tests" / "coach" / "sources",
    )
    result = run_job(image, root, *driver)
    assert result.returncode == 0, result.log[-3000:]
    meta = json.loads((root / "model" / "metadata.json").read_text())
    assert meta["framework"] == "mxnet"
    # The export loads in a fresh process of the image and answers (on the CPU).
    out = docker(
        "run",
        "--rm",
        *driver,
        "-v",
        f"{root / 'model'}:/opt/ml/model:ro",
        "--entrypoint",
        "python",
        image,
        "-c",
        "import json, mxnet as mx\n"
        "meta = json.load(open('/opt/ml/model/metadata.json'))\n"
        "block = mx.gluon.SymbolBlock.imports('/opt/ml/model/' + meta['symbol'],"
        " list(meta['inputs']), '/opt/ml/model/' + meta['params'])\n"
        "out = block(mx.nd.ones((8, 4)))\n"  # the knapsack's 4 observation features
        "out = out if isinstance(out, (list, tuple)) else [out]\n"
        "print(json.dumps([o.shape[0] for o in out]))\n",
    ).stdout
    # Clipped PPO's heads: the state value and the action probabilities, per observation.
    assert json.loads(out.strip().splitlines()[-1]) == [8, 8]
