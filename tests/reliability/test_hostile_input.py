"""Issue 12, item 6: input that used to answer 500 (NUL, lone surrogates, deep JSON, odd paths) answers 4xx in
our error shape; a WebSocket to an unknown path is closed with 4404."""

from __future__ import annotations

import http.client
import json

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.keys import Client

NUL = "voice_\x00x"
SURROGATE = "voice_\ud800x"
DEEP = "[" * 100_000 + "]" * 100_000


def assert_error_shape(response, status: int | tuple[int, ...]) -> dict:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return error


def raw_json(value) -> str:
    return json.dumps(value)  # ASCII escapes: a lone surrogate travels as \ud800, as a client would send it


@pytest.mark.parametrize("voice", [NUL, SURROGATE, {"id": NUL}, {"id": SURROGATE}])
def test_nul_and_lone_surrogates_in_voice_are_400(server, voice):
    body = raw_json({"model": "tts-1", "input": "Hi.", "voice": voice, "response_format": "pcm"})
    response = Client(server).post("/v1/audio/speech", data=body, headers={"Content-Type": "application/json"})
    assert assert_error_shape(response, 400)["param"] == "voice"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/audio/voices/voice_%00x"),
        ("DELETE", "/v1/audio/voices/voice_%00x"),
        ("GET", "/v1/audio/voices/voice_%ED%A0%80x"),
        ("GET", "/v1/audio/voice_consents/cons_%00x"),
        ("POST", "/v1/audio/voice_consents/cons_%00x"),
        ("DELETE", "/v1/audio/voice_consents/cons_%00x"),
        ("GET", "/v1/audio/voice_consents/cons_%ED%A0%80x"),
    ],
)
def test_nul_and_surrogates_in_path_ids_are_404(server, method, path):
    response = Client(server).request(method, path, json={"name": "x"} if method == "POST" else None)
    assert_error_shape(response, 404)


@pytest.mark.parametrize(
    "path",
    ["/v1/audio/speech", "/v1/stream-text", "/v1/audio/voice_consents/cons_x", "/v1/audio/voices", "/v1/voice-clone"],
)
def test_json_nested_too_deep_is_400(server, path):
    response = Client(server).post(path, data=DEEP, headers={"Content-Type": "application/json"})
    assert_error_shape(response, 400)


def test_a_websocket_message_nested_too_deep_is_an_error_message(server, session):
    from tests.streaming.conftest import ws_url

    with connect(ws_url(server, session())) as ws:
        ws.send(DEEP)
        message = json.loads(ws.recv(timeout=30))
    assert message["type"] == "error" and "JSON" in message["error"]["message"]


@pytest.mark.parametrize("path", ["/static/..", "/static/../config/settings.py", "/static/..%2f..%2fREADME.md"])
def test_dot_dot_under_static_is_4xx_not_an_html_500(server, path):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # sends the path unnormalised
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    assert 400 <= response.status < 500, (response.status, body[:200])
    assert set(json.loads(body)["error"]) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("path", ["/v1/ws/nope", "/", "/v1/ws/stream-text/a/b"])
def test_a_websocket_to_an_unknown_path_is_closed_with_4404(server, path):
    with connect(server.url.replace("http://", "ws://") + path) as ws:
        message = json.loads(ws.recv(timeout=30))
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert message["type"] == "error" and message["error"]["code"] == "not_found"
    assert closed.value.rcvd.code == 4404
