"""Image observations, zero-code: an env of byte images of a size RLlib has no default CNN for
(tests/training/sources/pixels/lit_side.py, 24x24 RGB) trains with the CNN the job picks; the
exported policy takes the env's own pixels; `serve` answers them as nested JSON lists and as
.npy, as the exported policy computes them, and refuses a wrong shape in one line."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from test_serve import Server

from conftest import ROOT, make_job, read_json, run_train

SOURCES = ROOT / "tests" / "training" / "sources" / "pixels"
# lit_side: ten steps an episode, each a coin flip for a random policy.
RANDOM_RETURN = 5.0
MARGIN = 3.0


@pytest.fixture(scope="module")
def lit_side():
    sys.path.insert(0, str(SOURCES))
    try:
        from lit_side import LitSide
    finally:
        sys.path.remove(str(SOURCES))
    return LitSide


@pytest.fixture(scope="module")
def pixel_job(tmp_path_factory):
    root = make_job(
        tmp_path_factory.mktemp("pixels"),
        {
            "rl_env": "lit_side:LitSide",
            "rl_stop_iterations": "5",
            "rl.training.train_batch_size_per_learner": "500",
        },
        source_dir=SOURCES,
    )
    result = run_train(root, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    return root, result.log


def onnx_actions(model: Path, observations: np.ndarray) -> list:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(model / "policy.onnx"))
    return session.run(["actions"], {"observations": observations.astype(np.float32)})[0].tolist()


def test_a_byte_image_env_trains_with_a_cnn_and_the_export_plays_its_pixels(pixel_job, lit_side):
    root, log = pixel_job
    assert "Image observations 24x24x3: CNN filters [[16, 4, 2], [32, 4, 2]]" in log
    metadata = read_json(root / "model" / "metadata.json")
    assert metadata["observation_space"]["shape"] == [24, 24, 3]
    assert metadata["observation_space"]["dtype"] == "uint8"
    assert metadata["onnx"]["inputs"]["observations"]["shape"] == [None, 24, 24, 3]
    # Learned: the exported policy, given the env's own pixels, beats random play by MARGIN.
    env, returns = lit_side(), []
    for seed in range(20):
        observation, _ = env.reset(seed=seed)
        total, done = 0.0, False
        while not done:
            (action,) = onnx_actions(root / "model", observation[None])
            observation, reward, done, _, _ = env.step(action)
            total += reward
        returns.append(total)
    assert np.mean(returns) >= RANDOM_RETURN + MARGIN, returns


def test_serve_answers_images_as_json_and_npy_as_the_exported_policy_does(
    pixel_job, lit_side, tmp_path
):
    root, _ = pixel_job
    env = lit_side()
    env.reset(seed=0)
    images = []
    for side in (0, 1, 1, 0, 1, 0):
        env.side = side
        images.append(env._observe())
    batch = np.stack(images)
    expected = onnx_actions(root / "model", batch)
    assert sorted(set(expected)) == [0, 1]  # both sides lit, both answers
    server = Server(root, tmp_path)
    try:
        server.wait_until_listening()
        status, _, body = server.post_json(batch.tolist())
        assert status == 200 and json.loads(body)["actions"] == expected
        status, _, body = server.post_json(batch[1].tolist())
        assert status == 200 and json.loads(body) == {"actions": expected[1]}
        npy = io.BytesIO()
        np.save(npy, batch)
        status, _, body = server.request(
            "/invocations",
            npy.getvalue(),
            {"Content-Type": "application/x-npy", "Accept": "application/json"},
        )
        assert status == 200 and json.loads(body)["actions"] == expected
        status, _, body = server.post_json(np.zeros((2, 20, 24, 3)).tolist())
        assert status == 400
        error = json.loads(body)["error"]
        assert "[24, 24, 3]" in error and "\n" not in error
    finally:
        server.stop()
