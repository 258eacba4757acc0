"""Issue 12, items 3, 7 and 9 against the production server (config.server): bodies over the limits and
bodies without a valid key are refused before they are read; malformed multipart bodies get our error
shape; clients that send their headers or body too slowly are answered 408 and cut off."""

from __future__ import annotations

import json
import socket
import time

import pytest

from tests.conftest import LiveServer
from tests.keys import new_key

BOUNDARY = "reliability"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
WAIT = 60  # generous: how long a test waits for an answer that should come at once


def open_request(server: LiveServer, path: str, headers: dict[str, str]) -> socket.socket:
    """A connection that has sent a POST's line and headers and nothing of its body."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """The status, headers and body of the answer, read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    return int(status_line.split()[1]), headers, body


def assert_error(body: bytes, code: str) -> dict:
    error = json.loads(body)["error"]
    assert error["code"] == code
    assert set(error) == {"message", "type", "param", "code"}
    return error


@pytest.fixture
def secret(production_server) -> str:
    return new_key()


# ---- item 3: large bodies, and bodies without a valid key -------------------------------------------------


def test_a_200_mb_upload_is_refused_with_413_before_its_body_is_sent(production_server, secret):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": MULTIPART, "Content-Length": str(200 * 2**20)}
    with open_request(production_server, "/v1/voice-clone", headers) as sock:
        status, response_headers, body = read_response(sock)  # not one byte of the body was sent
    assert status == 413
    assert response_headers["content-type"] == "application/json"
    assert "200.00 MiB" in assert_error(body, "request_too_large")["message"]


def test_a_json_body_over_the_json_limit_is_refused_with_413(production_server, secret):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    headers["Content-Length"] = str(21 * 2**20)
    with open_request(production_server, "/v1/audio/speech", headers) as sock:
        status, _, body = read_response(sock)
    assert status == 413
    assert_error(body, "request_too_large")


def test_a_chunked_body_is_refused_with_413_once_it_passes_the_limit(production_server, secret):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": MULTIPART, "Transfer-Encoding": "chunked"}
    piece = b"\0" * 2**20
    with open_request(production_server, "/v1/voice-clone", headers) as sock:
        try:
            for _ in range(200):  # 200 MiB, unless refused on the way
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        except OSError:
            pass  # the server stopped reading: the answer is waiting
        status, _, body = read_response(sock)
    assert status == 413
    assert_error(body, "request_too_large")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [(None, "missing_api_key"), ("Basic dXNlcjpwYXNz", "missing_api_key"), ("Bearer csm-not-a-key", "invalid_api_key")],
)
def test_a_body_without_a_valid_key_is_refused_with_401_before_it_is_sent(production_server, authorization, code):
    headers = {"Content-Type": MULTIPART, "Content-Length": str(5 * 2**20)}
    if authorization:
        headers["Authorization"] = authorization
    with open_request(production_server, "/v1/voice-clone", headers) as sock:
        status, response_headers, body = read_response(sock)
    assert status == 401
    assert response_headers["www-authenticate"] == "Bearer"
    assert_error(body, code)


def test_a_body_with_a_valid_key_is_read_and_served(production_server, secret):
    payload = json.dumps({"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm"}).encode()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    headers |= {"Content-Length": str(len(payload)), "Connection": "close"}
    with open_request(production_server, "/v1/audio/speech", headers) as sock:
        sock.sendall(payload)
        status, response_headers, _ = read_response(sock)
    assert status == 200
    assert response_headers["content-type"] == "audio/pcm"


# ---- item 7: malformed multipart bodies ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (MULTIPART, b"no boundary anywhere in this body"),
        ("multipart/form-data", b"--x\r\n\r\nno boundary parameter\r\n--x--\r\n"),
    ],
)
def test_a_malformed_multipart_body_gets_400_in_our_error_shape(production_server, secret, content_type, body):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": content_type}
    headers |= {"Content-Length": str(len(body)), "Connection": "close"}
    with open_request(production_server, "/v1/voice-clone", headers) as sock:
        sock.sendall(body)
        status, response_headers, answer = read_response(sock)
    assert status == 400
    assert response_headers["content-type"] == "application/json"
    assert json.loads(answer)["error"]["type"] == "invalid_request_error"


# ---- item 9: slow clients ------------------------------------------------------------------------------


def trickle(sock: socket.socket, data: bytes, *, every: float = 0.5) -> bool:
    """Sends `data` a byte at a time; False once the server has closed the connection."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return False
        time.sleep(every)
    return True


def test_headers_sent_a_byte_at_a_time_are_cut_off_with_408(production_server):
    sock = socket.create_connection(("127.0.0.1", production_server.port), timeout=WAIT)
    with sock:
        trickle(sock, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200)
        status, _, body = read_response(sock)
    assert status == 408
    assert "headers" in assert_error(body, "request_timeout")["message"]


def test_a_body_sent_a_byte_at_a_time_is_cut_off_with_408(production_server, secret):
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json", "Content-Length": "1000"}
    with open_request(production_server, "/v1/audio/speech", headers) as sock:
        trickle(sock, b"{" + b" " * 998 + b"}")
        status, _, body = read_response(sock)
    assert status == 408
    assert "body" in assert_error(body, "request_timeout")["message"]
