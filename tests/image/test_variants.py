"""The other image variants of the matrix, and ways of running an image beyond SageMaker's
default: read-only root filesystem, a non-root user."""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path

import pytest

from conftest import (
    QUICK_PPO,
    build_image,
    docker,
    greedy_onnx_return,
    make_job,
    post_json,
    read_json,
    run_job,
    serving_container,
)

pytestmark = pytest.mark.docker

TF_QUICK = {
    "rl.training.train_batch_size": "500",
    "rl.training.minibatch_size": "250",
    "rl.training.num_epochs": "2",
    "rl.env_runners.num_env_runners": "0",
}


@pytest.fixture(scope="session")
def tf_image() -> str:
    return build_image("ray-tensorflow-cpu")


@pytest.fixture(scope="module")
def tf_job(tf_image, tmp_path_factory):
    root = make_job(tmp_path_factory.mktemp("tf") / "job", {**TF_QUICK, "rl_stop_iterations": "2"})
    return run_job(tf_image, root)


def test_tensorflow_image_trains_and_exports_a_tf_serving_savedmodel(tf_image, tf_job):
    result, root = tf_job, tf_job.root
    assert result.returncode == 0, result.log[-3000:]
    assert [m["iteration"] for m in result.metric_lines()] == ["1", "2"]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["framework"] == "tf"
    assert (
        meta["tf_serving"]["path"] == "1" and meta["tf_serving"]["signature"] == "serving_default"
    )
    assert (root / "model" / "1" / "saved_model.pb").exists()
    # The same ONNX interface as torch exports, converted from the SavedModel.
    assert meta["onnx"]["outputs"] == ["actions", "action_dist_inputs", "action_probs"]
    assert (root / "model" / "policy.onnx").exists()
    # TensorFlow (in the image) reloads it and answers its serving signature.
    check = (
        "import json, numpy as np, tensorflow as tf\n"
        "meta = json.load(open('/opt/ml/model/metadata.json'))['tf_serving']\n"
        "sig = tf.saved_model.load('/opt/ml/model/1').signatures['serving_default']\n"
        "name = next(iter(meta['inputs']))\n"
        "out = sig(**{name: tf.constant(np.zeros((3, 4), np.float32))})\n"
        "print(json.dumps({k: list(v.shape) for k, v in out.items()}))\n"
    )
    out = docker(
        "run", "--rm", "-v", f"{root}:/opt/ml", "--entrypoint", "python", tf_image, "-c", check
    ).stdout
    shapes = json.loads(out.strip().splitlines()[-1])
    assert shapes[meta["tf_serving"]["action_dist_inputs"]] == [3, 2]


def test_a_sweep_on_the_tensorflow_image_exports_its_best_trial(tf_image, tmp_path):
    # RLlib's old API stack (this image's) takes callbacks as a class only: a sweep's trials
    # report their recent return through one.
    space = {"rl.training.lr": [0.0003, 0.001]}
    root = make_job(
        tmp_path / "job",
        {
            **TF_QUICK,
            "rl_stop_iterations": "2",
            "rl_tune_space": json.dumps(space),
            "rl_tune_search": "grid",
        },
    )
    result = run_job(tf_image, root)
    assert result.returncode == 0, result.log[-3000:]
    meta = read_json(root / "model" / "metadata.json")
    assert meta["framework"] == "tf" and (root / "model" / "1" / "saved_model.pb").exists()
    assert meta["tune"]["trials"] == 2 and meta["tune"]["search"] == "grid"
    assert meta["tune"]["settings"]["rl.training.lr"] in space["rl.training.lr"]
    with (root / "output" / "data" / "tune_trials.csv").open() as file:
        rows = list(csv.DictReader(file))
    assert {row["rl.training.lr"] for row in rows} == {"0.0003", "0.001"}
    assert {row["host"] for row in rows} == {"algo-1"}
    assert all(float(row["recent_episode_return_mean"]) > 0 for row in rows)


# CartPole-v1: random play averages ~22; one constant action ~9.
CARTPOLE_EXPORT_FLOOR = 150.0


def test_the_tensorflow_images_export_is_the_trained_policy(tf_image, tmp_path):
    # RLlib saves the old stack's Keras model from Keras' own session unless told otherwise:
    # the SavedModel (and the ONNX converted from it) held freshly initialised weights, and
    # a policy that trained to 126 played 10 once exported.
    import gymnasium as gym

    root = make_job(
        tmp_path / "job",
        {"rl_env": "CartPole-v1", "rl_stop_mean_return": "200", "rl_stop_seconds": "180"},
    )
    result = run_job(tf_image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert "Training stopped: mean return" in result.log, result.log[-2000:]
    played = greedy_onnx_return(root / "model", gym.make("CartPole-v1"))
    assert played >= CARTPOLE_EXPORT_FLOOR, played


def test_image_observations_train_on_the_tensorflow_image_and_export_for_raw_pixels(
    tf_image, tmp_path
):
    # RLlib's old stack has no CNN for 24x24 and wants its CNN to end in a 1x1 map; byte
    # images are scaled for the policy as on the torch images, and the export takes pixels.
    sources = Path(__file__).parents[1] / "training" / "sources" / "pixels"
    root = make_job(
        tmp_path / "job",
        {
            "rl_env": "lit_side:LitSide",
            "rl_stop_iterations": "8",
            "rl.training.train_batch_size": "500",
        },
        source_dir=sources,
    )
    result = run_job(tf_image, root)
    assert result.returncode == 0, result.log[-3000:]
    assert "CNN filters [[16, 4, 2], [32, 4, 2], [256, [6, 6], 1]]" in result.log
    meta = read_json(root / "model" / "metadata.json")
    assert meta["observation_scale"] == pytest.approx(1 / 255)
    assert meta["onnx"]["inputs"]["observations"]["shape"] == [None, 24, 24, 3]
    sys.path.insert(0, str(sources))
    try:
        from lit_side import LitSide
    finally:
        sys.path.remove(str(sources))
    # lit_side: random play 5 of 10; the exported policy, given raw pixels, must beat it.
    played = greedy_onnx_return(root / "model", LitSide())
    assert played >= 8.0, played


def writable_by_anyone(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        os.chmod(path, 0o777 if path.is_dir() else 0o666)


def test_read_only_root_filesystem(image, tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "1"})
    result = run_job(image, root, "--read-only", "--tmpfs", "/tmp:exec,size=2g")
    assert result.returncode == 0, result.log[-3000:]
    assert (root / "model" / "policy.onnx").exists()


def test_runs_as_a_non_root_user(image, tmp_path):
    root = make_job(tmp_path / "job", {**QUICK_PPO, "rl_stop_iterations": "1"})
    writable_by_anyone(root)
    result = run_job(image, root, "--user", "sagemaker")
    assert result.returncode == 0, result.log[-3000:]
    assert (root / "model" / "policy.onnx").stat().st_uid == 1000


def test_serve_answers_from_the_savedmodel(tf_image, tf_job):
    assert tf_job.returncode == 0
    with serving_container(tf_image, tf_job.root / "model") as url:
        answer = post_json(
            url,
            {
                "instances": [[0.0, 0.1, 0.0, -0.1], [0.1, 0.0, -0.2, 0.3]],
                "include": ["action_probs", "action_dist_inputs"],
            },
        )
    logits = answer["action_dist_inputs"]
    assert answer["actions"] == [row.index(max(row)) for row in logits]
    assert all(abs(sum(p) - 1) < 1e-5 for p in answer["action_probs"])


def test_serve_falls_back_to_the_savedmodel_without_onnx(tf_image, tf_job, tmp_path):
    import shutil

    assert tf_job.returncode == 0
    model = tmp_path / "model"
    shutil.copytree(tf_job.root / "model", model)
    (model / "policy.onnx").unlink()
    meta = read_json(model / "metadata.json")
    del meta["onnx"]
    (model / "metadata.json").write_text(json.dumps(meta))
    with serving_container(tf_image, model) as url:
        from_savedmodel = post_json(
            url, {"instances": [[0.0, 0.1, 0.0, -0.1]] * 3, "include": ["action_dist_inputs"]}
        )
    with serving_container(tf_image, tf_job.root / "model") as url:
        from_onnx = post_json(
            url, {"instances": [[0.0, 0.1, 0.0, -0.1]] * 3, "include": ["action_dist_inputs"]}
        )
    assert from_savedmodel["actions"] == from_onnx["actions"]
    for a, b in zip(
        from_savedmodel["action_dist_inputs"], from_onnx["action_dist_inputs"], strict=True
    ):
        assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-4


def test_the_serve_only_image_serves_a_tensorflow_jobs_onnx_policy(tf_image, tf_job, serve_image):
    # The TensorFlow image's export carries policy.onnx (tf2onnx) beside its SavedModel: the
    # serve-only image answers what the training image does.
    assert tf_job.returncode == 0
    request = {"instances": [[0.0, 0.1, 0.0, -0.1], [0.1, 0.0, -0.2, 0.3], [0.2, 0.5, 0.1, 0.0]]}
    with serving_container(tf_image, tf_job.root / "model") as url:
        expected = post_json(url, request)["actions"]
    with serving_container(serve_image, tf_job.root / "model", docker_args=("--read-only",)) as url:
        assert post_json(url, request)["actions"] == expected
