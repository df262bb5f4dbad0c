"""The serve-only image (images/matrix.toml's [[serve_image]] rows) in a real Docker engine, run
as SageMaker's hosting and serverless inference run it: a model a training image exported,
mounted read-only at /opt/ml/model, as the image's non-root user, on a read-only root
filesystem, in the 1 GB of the smallest serverless memory size."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import (
    DOCKER,
    ROOT,
    docker,
    make_job,
    post_json,
    read_json,
    run_job,
    serving_container,
)

pytestmark = pytest.mark.docker

SERVERLESS = ("--read-only", "--memory", "1g", "--memory-swap", "1g")


def test_a_ray_model_is_served_read_only_as_non_root_within_1_gb(serve_image, cartpole_model):
    import numpy as np
    import onnxruntime

    assert docker("inspect", "-f", "{{.Config.User}}", serve_image).stdout.strip() == "1000:1000"
    model = cartpole_model / "model"
    observations = np.random.default_rng(11).normal(size=(200, 4)).astype(np.float32)
    with serving_container(serve_image, model, docker_args=SERVERLESS) as url:
        served = post_json(url, {"instances": observations.tolist()})["actions"]
        with urllib.request.urlopen(f"{url}/execution-parameters", timeout=10) as response:
            assert json.load(response)["BatchStrategy"] == "MultiRecord"
    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    assert served == session.run(["actions"], {"observations": observations})[0].tolist()


def test_the_serve_only_image_has_no_toolkit_and_says_so_for_train(serve_image):
    result = subprocess.run(
        [DOCKER, "run", "--rm", serve_image, "train"], capture_output=True, text=True, timeout=60
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "this is a serve-only image" in lines[0]
    listed = docker(
        "run", "--rm", "--entrypoint", "python", serve_image, "-m", "pip", "list", check=False
    )
    assert listed.returncode != 0  # no installer either
    probe = docker(
        "run",
        "--rm",
        "--entrypoint",
        "python",
        serve_image,
        "-c",
        "import importlib.util as u; print([m for m in ('ray', 'torch', 'tensorflow', "
        "'sagemaker_training', 'pydantic') if u.find_spec(m)])",
    )
    assert probe.stdout.strip() == "[]"


def test_a_model_this_image_cannot_run_fails_ping_with_the_image_to_use(serve_image, tmp_path):
    # A TensorFlow policy exported without ONNX (its SavedModel only) needs TensorFlow.
    model = tmp_path / "model"
    (model / "1").mkdir(parents=True)
    (model / "metadata.json").write_text(
        json.dumps(
            {
                "algorithm": "PPO",
                "framework": "tf2",
                "tf_serving": {"path": "1", "signature": "serving_default", "inputs": {}},
                "action_space": {"type": "Discrete", "n": 2},
            }
        )
    )
    model.chmod(0o755)
    with serving_container(serve_image, model, expect_ping=503) as url:
        try:
            urllib.request.urlopen(f"{url}/ping", timeout=10)
        except urllib.error.HTTPError as error:
            message = json.load(error)["error"]
    assert message.startswith("this model's policy needs tensorflow, which this image does not")
    assert "a TensorFlow SavedModel without an ONNX policy" in message


def test_the_port_follows_sagemaker_bind_to_port(serve_image, cartpole_model):
    # SageMaker may pick the port (the image's accept-bind-to-port label says it can).
    labels = json.loads(docker("inspect", "-f", "{{json .Config.Labels}}", serve_image).stdout)
    assert labels["com.amazonaws.sagemaker.capabilities.accept-bind-to-port"] == "true"
    with serving_container(
        serve_image,
        cartpole_model / "model",
        docker_args=("-e", "SAGEMAKER_BIND_TO_PORT=9090"),
        container_port=9090,
    ) as url:
        assert post_json(url, [0.0, 0.0, 0.0, 0.0])["actions"] in (0, 1)


def test_a_pettingzoo_env_trains_in_the_image_and_the_serve_only_image_answers_each_agent(
    image, serve_image, tmp_path
):
    # PettingZoo is not in the image: the source directory's requirements.txt brings it, as a
    # user's would. pairs.py: two players, the same spaces, so one shared policy; each scores
    # 3.3 of 10 at random.
    import numpy as np
    import onnxruntime

    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(ROOT / "tests" / "training" / "sources" / "multi_agent" / "pairs.py", source)
    (source / "requirements.txt").write_text("pettingzoo==1.25.0\n")
    root = make_job(
        tmp_path / "job", {"rl_env": "pairs", "rl_stop_iterations": "6"}, source_dir=source
    )
    result = run_job(image, root, timeout=600)
    assert result.returncode == 0, result.log[-3000:]
    assert "acting with 1 policies: shared (player_0, player_1)" in result.log
    last = result.metric_lines()[-1]
    assert float(last["policy_shared_episode_return_mean"]) >= 2 * (10 / 3) + 4, last
    model = root / "model"
    onnx = read_json(model / "metadata.json")["multi_agent"]["policies"]["shared"]["onnx"]
    session = onnxruntime.InferenceSession(str(model / onnx["file"]))
    targets = np.eye(3, dtype=np.float32)
    expected = session.run(["actions"], {"observations": targets})[0].tolist()
    request = {"player_0": targets[0].tolist(), "player_1": targets.tolist()}
    with serving_container(serve_image, model, docker_args=SERVERLESS) as url:
        assert post_json(url, request) == {
            "player_0": {"actions": expected[0]},
            "player_1": {"actions": expected},
        }
