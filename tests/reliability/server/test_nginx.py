"""Issue 12, item 9: deploy/nginx.conf in front of the production server cuts off slow clients and refuses
bodies over the limit itself, and passes requests and WebSockets through. Skipped where nginx is missing
(`.ci/run` installs it)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from tests.conftest import REPO_DIR, LiveServer, _free_port
from tests.reliability.server.test_request_limits import MULTIPART, WAIT, read_response, trickle
from tests.reliability.server.test_websocket_redis import create_session
from tests.streaming.conftest import text_message, wav_samples

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


class Nginx:
    """nginx running deploy/nginx.conf, its upstream and port pointed at `server`."""

    def __init__(self, server: LiveServer, workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = (REPO_DIR / "deploy" / "nginx.conf").read_text()
        for old, new in [
            ("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.port};"),
            ("listen 80;", f"listen 127.0.0.1:{self.port};"),
        ]:
            assert old in config, f"deploy/nginx.conf no longer has {old!r}"
            config = config.replace(old, new)
        (workdir / "nginx.conf").write_text(config)
        directives = f"daemon off; pid {workdir}/nginx.pid; error_log {workdir}/error.log;"
        if os.geteuid() == 0:
            directives += " user root;"  # the workers write request bodies under workdir
        self.process = subprocess.Popen(
            [
                NGINX,
                "-p",
                str(workdir),
                "-c",
                str(workdir / "nginx.conf"),
                "-e",
                str(workdir / "error.log"),
                "-g",
                directives,
            ],
        )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"nginx did not start: {(workdir / 'error.log').read_text()[-2000:]}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def nginx(production_server, tmp_path_factory):
    front = Nginx(production_server, tmp_path_factory.mktemp("nginx"))
    yield front
    front.stop()


def test_requests_pass_through(nginx):
    response = requests.get(f"{nginx.url}/health", timeout=WAIT)
    assert response.status_code == 200
    assert response.json()["model"]["status"] == "ready"


def test_a_200_mb_body_is_refused_by_nginx_in_our_error_shape(nginx):
    sock = socket.create_connection(("127.0.0.1", nginx.port), timeout=WAIT)
    head = f"POST /v1/voice-clone HTTP/1.1\r\nHost: x\r\nContent-Type: {MULTIPART}\r\n"
    head += f"Content-Length: {200 * 2**20}\r\n\r\n"
    with sock:
        sock.sendall(head.encode())
        status, headers, body = read_response(sock)  # answered without one byte of the body
    assert status == 413
    assert headers["content-type"] == "application/json"
    assert json.loads(body)["error"]["code"] == "request_too_large"


def test_a_client_sending_its_headers_a_byte_at_a_time_is_cut_off(nginx):
    sock = socket.create_connection(("127.0.0.1", nginx.port), timeout=WAIT)
    with sock:
        finished = trickle(sock, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200)
        assert not finished or sock.recv(65536) == b"", "nginx kept the slow connection open"


def test_websockets_pass_through(nginx, client):
    url = f"ws://127.0.0.1:{nginx.port}/v1/ws/stream-text/{create_session(client)}"
    with connect(url, additional_headers={"Authorization": f"Bearer {client.secret}"}) as ws:
        ws.send(text_message("Hello there.", is_final=True))
        answer = ws.recv(timeout=WAIT)
    assert len(wav_samples(answer)) > 0
