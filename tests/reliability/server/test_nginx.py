"""Issue 12, item 9: deploy/nginx.conf in front of the production server cuts off slow clients and refuses
bodies over the limit itself, and passes requests and WebSockets through. Skipped where nginx is missing
(`.ci/run` installs it)."""

from __future__ import annotations

import json
import socket

import pytest
import requests
from websockets.sync.client import connect

from tests.nginx import NGINX, Nginx
from tests.reliability.server.test_request_limits import MULTIPART, WAIT, read_response, trickle
from tests.reliability.server.test_websocket_redis import create_session
from tests.streaming.conftest import text_message, wav_samples

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install -y nginx)")


@pytest.fixture(scope="module")
def nginx(production_server, tmp_path_factory):
    front = Nginx([production_server.port], tmp_path_factory.mktemp("nginx"))
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
