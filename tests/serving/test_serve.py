"""`sagemaker-rl serve` over real HTTP: parity with the trained policy, content types, bad
input answered with one-line errors while the server keeps serving, 1000 concurrent requests."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from conftest import SAGEMAKER_RL, free_port, job_env


class Server:
    def __init__(self, base_dir: Path, tmp_path: Path, env: dict | None = None) -> None:
        self.port = free_port()
        env = job_env(base_dir) | {"SAGEMAKER_BIND_TO_PORT": str(self.port)} | (env or {})
        self.log = tmp_path / f"serve-{self.port}.log"
        self.proc = subprocess.Popen(
            [str(SAGEMAKER_RL), "serve"],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_until_listening(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        pytest.fail(f"serve did not listen within {timeout} s: {self.log.read_text()}")

    def request(self, path: str, body: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(
            self.url + path,
            data=body,
            headers=headers or {},
            method="POST" if body is not None else "GET",
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers.get_content_type(), resp.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get_content_type(), error.read()

    def post_json(self, payload, headers: dict | None = None):
        return self.request(
            "/invocations",
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(cartpole_model, tmp_path_factory):
    srv = Server(cartpole_model, tmp_path_factory.mktemp("serve"))
    srv.wait_until_listening()
    yield srv
    srv.stop()


def cartpole_observations(n: int) -> np.ndarray:
    env = gym.make("CartPole-v1")
    obs, _ = env.reset(seed=3)
    seen = []
    rng = np.random.default_rng(3)
    for _ in range(n):
        seen.append(obs)
        obs, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
        if terminated or truncated:
            obs, _ = env.reset()
    return np.array(seen, np.float32)


def test_ping_is_healthy_once_the_policy_is_loaded(server):
    status, content_type, body = server.request("/ping")
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body) == {"status": "healthy"}


def test_served_actions_match_the_trained_policy(server, cartpole_model):
    import torch
    from ray.rllib.core.rl_module.rl_module import RLModule

    module = RLModule.from_checkpoint(
        cartpole_model
        / "model"
        / "checkpoint"
        / "learner_group"
        / "learner"
        / "rl_module"
        / "default_policy"
    )
    observations = cartpole_observations(200)
    with torch.no_grad():
        logits = module.forward_inference({"obs": torch.from_numpy(observations)})[
            "action_dist_inputs"
        ].numpy()
    status, _, body = server.post_json(
        {"instances": observations.tolist(), "include": ["action_probs", "action_dist_inputs"]}
    )
    assert status == 200, body
    answer = json.loads(body)
    assert answer["actions"] == logits.argmax(axis=1).tolist()
    np.testing.assert_allclose(answer["action_dist_inputs"], logits, atol=1e-5)
    np.testing.assert_allclose(np.sum(answer["action_probs"], axis=1), 1.0, atol=1e-5)


def test_one_observation_gets_one_action(server):
    status, _, body = server.post_json([0.01, -0.02, 0.03, 0.04])
    assert status == 200
    assert json.loads(body)["actions"] in (0, 1)
    status, _, body = server.post_json(
        {"instances": [0.0, 0.0, 0.0, 0.0]},
        headers={"X-Amzn-SageMaker-Custom-Attributes": "include=action_probs"},
    )
    answer = json.loads(body)
    assert set(answer) == {"actions", "action_probs"} and len(answer["action_probs"]) == 2


def test_csv_and_npy_in_and_out(server):
    observations = cartpole_observations(5)
    _, _, json_body = server.post_json(observations.tolist())
    expected = json.loads(json_body)["actions"]
    csv = "\n".join(",".join(f"{v:.9g}" for v in row) for row in observations).encode()
    status, content_type, body = server.request("/invocations", csv, {"Content-Type": "text/csv"})
    assert (status, content_type) == (200, "text/csv")
    assert [int(float(line)) for line in body.decode().split()] == expected
    buffer = io.BytesIO()
    np.save(buffer, observations)
    status, content_type, body = server.request(
        "/invocations",
        buffer.getvalue(),
        {"Content-Type": "application/x-npy", "Accept": "application/json"},
    )
    assert (status, content_type) == (200, "application/json")
    assert json.loads(body)["actions"] == expected
    status, content_type, body = server.request(
        "/invocations", buffer.getvalue(), {"Content-Type": "application/x-npy"}
    )
    assert content_type == "application/x-npy"
    assert np.load(io.BytesIO(body)).tolist() == expected


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            b"[1, 2, 3]",
            {"Content-Type": "application/json"},
            400,
            "observations shaped [3] do not fit the policy: expected [4]",
        ),
        (
            b'[["a", "b", "c", "d"]]',
            {"Content-Type": "application/json"},
            400,
            "observations must be numbers",
        ),
        (
            b'{"instances": [1, 2, 3, 4]',
            {"Content-Type": "application/json"},
            400,
            "the body is not valid JSON",
        ),
        (
            b'{"obs": [1, 2, 3, 4]}',
            {"Content-Type": "application/json"},
            400,
            "needs an 'instances'",
        ),
        (b"", {"Content-Type": "application/json"}, 400, "the request body is empty"),
        (b"[]", {"Content-Type": "application/json"}, 400, "do not fit the policy"),
        (b"1,2,x,4", {"Content-Type": "text/csv"}, 400, "the CSV body is not rows of numbers"),
        (b"not npy", {"Content-Type": "application/x-npy"}, 400, "not a NumPy .npy array"),
        (
            b"<obs/>",
            {"Content-Type": "application/xml"},
            415,
            "content type 'application/xml' is not supported",
        ),
        (
            b"[1, 2, 3, 4]",
            {"Content-Type": "application/json", "Accept": "image/png"},
            406,
            "cannot answer in 'image/png'",
        ),
        (
            b'{"instances": [1, 2, 3, 4], "include": ["q_values"]}',
            {"Content-Type": "application/json"},
            400,
            "cannot include q_values",
        ),
        # from the malformed-request catalogue: never a 500, never an answer holding NaN
        (b"[NaN, 0, 0, 0]", {"Content-Type": "application/json"}, 400, "finite numbers, not NaN"),
        (b"[0, Infinity, 0, 0]", {"Content-Type": "application/json"}, 400, "not Infinity"),
        (b"[0, null, 0, 0]", {"Content-Type": "application/json"}, 400, "must be finite numbers"),
        (b"[0, 1e39, 0, 0]", {"Content-Type": "application/json"}, 400, "within float32's range"),
        (b"0,nan,0,0", {"Content-Type": "text/csv"}, 400, "finite numbers"),
        (
            b"[" * 100_000 + b"]" * 100_000,
            {"Content-Type": "application/json"},
            400,
            "nested too deeply",
        ),
        (
            b'{"instances": [0, 0, 0, 0], "include": {"action_probs": 1}}',
            {"Content-Type": "application/json"},
            400,
            "'include' must be a list of output names",
        ),
        (
            b"[0, 0, 0, 0]",
            {"Content-Type": "application/json", "Accept": "application/json;q=0, text/html"},
            406,
            "cannot answer in",
        ),
    ],
)
def test_bad_requests_get_one_line_errors_and_the_server_keeps_serving(
    server, body, headers, status, message
):
    got_status, content_type, got = server.request("/invocations", body, headers)
    assert got_status == status, got
    assert content_type == "application/json"
    error = json.loads(got)["error"]
    assert message in error and "\n" not in error
    assert server.post_json([0.0, 0.0, 0.0, 0.0])[0] == 200


def test_thousand_concurrent_requests_all_succeed(server):
    payload = json.dumps({"instances": cartpole_observations(4).tolist()}).encode()
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )

    async def one() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(request)
        await writer.drain()
        response = await reader.read()
        writer.close()
        return int(response.split(b" ", 2)[1])

    async def all_at_once() -> list:
        return await asyncio.wait_for(
            asyncio.gather(*(one() for _ in range(1000)), return_exceptions=True), timeout=120
        )

    results = asyncio.run(all_at_once())
    errors = [r for r in results if r != 200]
    assert not errors, errors[:5]


def test_empty_model_dir_fails_health_check_with_the_reason(tmp_path):
    base = tmp_path / "ml"
    (base / "model").mkdir(parents=True)
    srv = Server(base, tmp_path)
    try:
        srv.wait_until_listening()
        status, _, body = srv.request("/ping")
        assert status == 503
        assert "is empty: no model to serve" in json.loads(body)["error"]
        status, _, body = srv.post_json([0.0, 0.0, 0.0, 0.0])
        assert status == 503 and "no model to serve" in json.loads(body)["error"]
    finally:
        srv.stop()


def test_a_complex_npy_array_is_refused(server):
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(4, dtype=np.complex64), allow_pickle=False)
    status, _, body = server.request(
        "/invocations", buffer.getvalue(), {"Content-Type": "application/x-npy"}
    )
    assert status == 400 and "not real numbers" in json.loads(body)["error"]


def test_a_chunked_body_is_read_whole(server):
    payload = json.dumps([0.01, -0.02, 0.03, 0.04]).encode()
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(payload[i : i + 5]), payload[i : i + 5])
        for i in range(0, len(payload), 5)
    )
    request = (
        b"POST /invocations HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + chunks + b"0\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response
    assert json.loads(body)["actions"] in (0, 1)


def test_accept_q_values_pick_the_answers_type(server):
    status, content_type, body = server.request(
        "/invocations",
        b"[0.0, 0.0, 0.0, 0.0]",
        {"Content-Type": "application/json", "Accept": "application/json;q=0.2, text/csv;q=0.9"},
    )
    assert (status, content_type) == (200, "text/csv") and body.strip() in (b"0", b"1")


def test_tensorflow_serving_requests_get_tensorflow_serving_answers(server):
    observations = cartpole_observations(3)
    status, _, body = server.post_json({"instances": observations.tolist()})
    assert status == 200
    rows = json.loads(body)
    assert len(rows["predictions"]) == 3
    assert [row["actions"] for row in rows["predictions"]] == rows["actions"]
    assert all(abs(sum(row["action_probs"]) - 1) < 1e-5 for row in rows["predictions"])
    status, _, body = server.post_json(
        {"signature_name": "serving_default", "inputs": observations.tolist()}
    )
    columns = json.loads(body)
    assert columns["outputs"]["actions"] == rows["actions"]
    assert len(columns["outputs"]["action_dist_inputs"]) == 3


def test_the_bind_address_can_be_one_interface(cartpole_model, tmp_path):
    srv = Server(cartpole_model, tmp_path, env={"SAGEMAKER_RL_BIND_ADDRESS": "127.0.0.2"})
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.2", srv.port), timeout=1):
                    break
            except OSError:
                assert srv.proc.poll() is None, srv.log.read_text()
                time.sleep(0.2)
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", srv.port), timeout=1):
            pass
    finally:
        srv.stop()
