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

from conftest import SAGEMAKER_RL, assert_same_policy_outputs, free_port, job_env


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
    assert_same_policy_outputs(answer["actions"], answer["action_dist_inputs"], logits)
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


# Serves like `sagemaker-rl serve`, with each worker's boot held open for a second between
# fork and its own signal handlers: where `docker stop` lands when it races a starting server.
SLOW_BOOT_SERVE = """
import sys, time
from pathlib import Path
from sagemaker_rl_container.serving import server

options = server.gunicorn_options

def slow_boot_options(serving):
    chosen = options(serving)
    keep = chosen.get("post_fork")

    def post_fork(arbiter, worker):
        time.sleep(1.0)
        if keep:
            keep(arbiter, worker)

    return chosen | {"post_fork": post_fork}

server.gunicorn_options = slow_boot_options
server.serve(Path(sys.argv[1]))
"""


def test_a_stop_sent_while_workers_boot_ends_the_server_at_once(tmp_path):
    """Before the fix the workers' inherited handler swallowed the SIGTERM and the master
    waited out gunicorn's 30 s graceful timeout."""
    base = tmp_path / "ml"
    (base / "model").mkdir(parents=True)
    port = free_port()
    env = job_env(base) | {
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "SAGEMAKER_MODEL_SERVER_WORKERS": "2",
    }
    log = tmp_path / "serve.log"
    proc = subprocess.Popen(
        [str(SAGEMAKER_RL.parent / "python"), "-c", SLOW_BOOT_SERVE, str(base / "model")],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while "Booting worker" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        proc.terminate()
        started = time.monotonic()
        proc.wait(timeout=40)
        stopped_in = time.monotonic() - started
    finally:
        proc.kill()
    assert stopped_in < 10, f"stopped in {stopped_in:.1f} s: {log.read_text()}"
    assert "told to stop while booting" in log.read_text()


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


# ---- what a batch transform sends (split_type="Line", SingleRecord or MultiRecord) ---------


def expected_actions(server, observations: np.ndarray) -> list:
    status, _, body = server.post_json(observations.tolist())
    assert status == 200, body
    return json.loads(body)["actions"]


def test_json_lines_get_one_answer_line_per_record(server):
    observations = cartpole_observations(6)
    expected = expected_actions(server, observations)
    lines = b"".join(json.dumps(row).encode() + b"\n" for row in observations.tolist())
    for content_type in ("application/jsonlines", "application/json"):
        # A MultiRecord batch of a .jsonl file, whichever type the transform job names.
        status, _, body = server.request("/invocations", lines, {"Content-Type": content_type})
        assert status == 200, body
        assert not body.endswith(b"\n")  # the transform adds one newline per answer
        assert [json.loads(line)["actions"] for line in body.split(b"\n")] == expected
    # SingleRecord: one line in, one line out.
    status, _, body = server.request(
        "/invocations", lines.split(b"\n")[0] + b"\n", {"Content-Type": "application/jsonlines"}
    )
    assert status == 200 and json.loads(body) == {"actions": expected[0]}
    # Records in other shapes are answered each as if it came alone.
    mixed = b'{"instances": [0, 0, 0, 0], "include": ["action_probs"]}\n[[0, 0, 0, 0]]\n'
    status, _, body = server.request(
        "/invocations", mixed, {"Content-Type": "application/jsonlines"}
    )
    first, second = (json.loads(line) for line in body.split(b"\n"))
    assert set(first) == {"actions", "action_probs"} and len(second["actions"]) == 1


def test_a_bad_record_is_named_by_its_line(server):
    lines = b"[0, 0, 0, 0]\n[0, 0]\n"
    status, _, body = server.request(
        "/invocations", lines, {"Content-Type": "application/jsonlines"}
    )
    assert status == 400 and json.loads(body)["error"].startswith("record 2: observations shaped")
    status, _, body = server.request(
        "/invocations", b"[0, 0, 0, 0]\n{oops\n", {"Content-Type": "application/jsonlines"}
    )
    assert status == 400 and json.loads(body)["error"].startswith("line 2 is not valid JSON")


def test_csv_records_get_one_row_each_without_a_trailing_newline(server):
    observations = cartpole_observations(5)
    expected = expected_actions(server, observations)
    csv = "".join(",".join(f"{v:.9g}" for v in row) + "\n" for row in observations).encode()
    status, _, body = server.request("/invocations", csv, {"Content-Type": "text/csv"})
    assert status == 200 and not body.endswith(b"\n")
    assert [int(float(row)) for row in body.decode().split("\n")] == expected
    status, _, body = server.request(
        "/invocations", csv.split(b"\n")[0] + b"\n", {"Content-Type": "text/csv"}
    )
    assert int(float(body)) == expected[0]


def test_execution_parameters_answer_as_sagemakers_containers_do(server):
    status, content_type, body = server.request("/execution-parameters")
    assert (status, content_type) == (200, "application/json")
    parameters = json.loads(body)
    assert set(parameters) == {"MaxConcurrentTransforms", "BatchStrategy", "MaxPayloadInMB"}
    assert parameters["BatchStrategy"] == "MultiRecord" and parameters["MaxPayloadInMB"] == 6
    assert parameters["MaxConcurrentTransforms"] >= 1


def test_a_body_beyond_max_payload_in_mb_gets_413_and_one_within_it_an_answer(
    cartpole_model, tmp_path
):
    srv = Server(cartpole_model, tmp_path, env={"SAGEMAKER_MAX_PAYLOAD_IN_MB": "1"})
    try:
        srv.wait_until_listening()
        row = b"[0.01, -0.02, 0.03, 0.04]\n"
        within = row * ((1024 * 1024) // len(row))
        status, _, body = srv.request(
            "/invocations", within, {"Content-Type": "application/jsonlines"}
        )
        assert status == 200 and body.count(b"\n") == within.count(b"\n") - 1
        status, _, body = srv.request(
            "/invocations", within + row, {"Content-Type": "application/jsonlines"}
        )
        error = json.loads(body)["error"]
        assert status == 413 and "the limit is 1 MB (SAGEMAKER_MAX_PAYLOAD_IN_MB)" in error
        assert (
            srv.request("/execution-parameters")[2]
            and json.loads(srv.request("/execution-parameters")[2])["MaxPayloadInMB"] == 1
        )
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "SAGEMAKER_MODEL_SERVER_WORKERS",
            "four",
            "SAGEMAKER_MODEL_SERVER_WORKERS='four' is not an integer",
        ),
        (
            "SAGEMAKER_BIND_TO_PORT",
            "70000",
            "SAGEMAKER_BIND_TO_PORT='70000' must be between 1 and 65535",
        ),
        ("SAGEMAKER_BATCH_STRATEGY", "ALL", "SAGEMAKER_BATCH_STRATEGY='ALL' is not one of"),
    ],
)
def test_a_bad_serving_setting_stops_serve_with_one_line(
    cartpole_model, tmp_path, variable, value, message
):
    srv = Server(cartpole_model, tmp_path, env={variable: value})
    assert srv.proc.wait(timeout=60) == 2
    errors = [line for line in srv.log.read_text().splitlines() if "ERROR" in line]
    assert len(errors) == 1 and message in errors[0], srv.log.read_text()


def test_sigterm_stops_serve_and_its_workers_within_seconds(cartpole_model, tmp_path):
    # docker stop (and an endpoint's scale-in) sends SIGTERM, then SIGKILL 10 s later.
    srv = Server(cartpole_model, tmp_path)
    srv.wait_until_listening()
    assert srv.request("/ping")[0] == 200
    started = time.monotonic()
    srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0
    assert time.monotonic() - started < 5, srv.log.read_text()[-2000:]
