"""`make push` against a real registry server running on loopback (Debian's docker-registry)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import ROOT, matrix_get

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    if not shutil.which("docker-registry"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker-registry"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    work = tmp_path_factory.mktemp("registry")
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        f"storage:\n  filesystem:\n    rootdirectory: {work / 'data'}\n"
        f"http:\n  addr: 127.0.0.1:{port}\n"
    )
    server = subprocess.Popen(
        ["docker-registry", "serve", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline and server.poll() is None, "registry did not start"
            time.sleep(0.2)
    yield f"127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


def test_push_sends_every_tag_of_the_image(serve_image, registry):
    # The serve-only image (300 MB) takes make push's path as any image does, in a fraction of
    # a training image's (2 GB) time.
    push = subprocess.run(
        ["make", "-C", str(ROOT), "push", "IMAGE=serve-onnx-cpu", f"REGISTRY={registry}/rl"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert push.returncode == 0, push.stdout[-2000:] + push.stderr[-2000:]
    with urllib.request.urlopen(f"http://{registry}/v2/rl/sagemaker-rl/tags/list") as response:
        tags = set(json.loads(response.read())["tags"])
    assert tags == set(matrix_get("serve-onnx-cpu", "tags").split())
