"""Issue 12, item 8: one request cannot hold a slot for minutes. The audio a request may produce is capped
(CSM_MAX_AUDIO_SECONDS, all its pieces or segments together), a session's waiting text is bounded
(CSM_MAX_SESSION_TEXT_CHARS) and so are a key's open streams (CSM_MAX_STREAMS_PER_KEY, per process)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from speech.engine.loading import load_model
from speech.engine.worker import Engine, SpeechRequest
from tests.conftest import LiveServer, _database_url
from tests.keys import SAMPLE, Client, new_key
from tests.streaming.conftest import create_session, wav_samples, ws_url

SENTENCES = " ".join(f"Sentence number {n} is here." for n in range(12))


@pytest.fixture
def start():
    servers: list[LiveServer] = []

    def start(**env: str) -> LiveServer:
        from django.db import connection

        servers.append(LiveServer(database_url=_database_url(connection.settings_dict), extra_env=env))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_the_engine_ends_a_request_at_its_audio_cap_across_pieces():
    engine = Engine(load_model("tiny-random", device="cpu", dtype="float32"), max_batch=2, max_request_ms=800)
    try:
        request = SpeechRequest(text="One. Two. Three.", topk=1, max_audio_length_ms=640)  # 8 frames a piece

        async def run():
            return await engine.speak(request).read_all()

        assert len(asyncio.run(run())) == 10 * 1920  # 800 ms, not 3 pieces of 640 ms
    finally:
        engine.close()


@pytest.mark.django_db(transaction=True)
def test_speech_and_stream_text_stop_at_the_audio_cap(start):
    server = start(CSM_MAX_AUDIO_SECONDS="1")
    client = Client(server)
    body = {"model": "tts-1", "input": SENTENCES, "voice": "alloy", "response_format": "pcm"}
    speech = client.post("/v1/audio/speech", json={**body, "max_audio_length_ms": 400})
    assert speech.status_code == 200
    assert len(speech.content) // 2 <= 24_000  # 1 s of 16-bit samples at 24 kHz; 12 pieces would be 4.8 s

    session = create_session(server, SAMPLE, max_audio_length_ms=400)
    wav = client.post("/v1/stream-text", json={"session_id": session, "text_chunk": SENTENCES, "is_final": True})
    assert wav.status_code == 200
    assert len(wav_samples(wav.content)) <= 24_000


@pytest.mark.django_db(transaction=True)
def test_a_sessions_waiting_text_is_bounded_over_http_and_websocket(start):
    server = start(CSM_MAX_SESSION_TEXT_CHARS="300")
    session = create_session(server, SAMPLE, max_audio_length_ms=4000)
    refused = Client(server).post("/v1/stream-text", json={"session_id": session, "text_chunk": "word " * 70})
    assert refused.status_code == 413
    assert refused.json()["error"]["code"] == "session_text_full"

    chunk = "This sentence is long enough to take a while to speak, and it ends here. " * 3  # 219 characters
    with connect(ws_url(server, session)) as ws:
        for _ in range(10):
            ws.send(json.dumps({"text_chunk": chunk, "is_final": False}))
        errors = []
        deadline = time.monotonic() + 120
        while not errors and time.monotonic() < deadline:
            message = ws.recv(timeout=120)
            if isinstance(message, str):
                errors.append(json.loads(message))
    assert errors and errors[0]["type"] == "error" and errors[0]["error"]["code"] == "session_text_full"


@pytest.mark.django_db(transaction=True)
def test_a_key_may_hold_only_so_many_streams(start):
    """An open WebSocket is one of the key's streams for as long as it is open: a streamed response or another
    WebSocket of the same key is refused (429, 4429) meanwhile; another key is not; closing it frees the slot."""
    server = start(CSM_MAX_STREAMS_PER_KEY="1", CSM_REQUIRE_API_KEY="1")
    secret = new_key()
    client = Client(server, secret)
    session = create_session_with_key(server, secret)
    headers = {"Authorization": f"Bearer {secret}"}
    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm", "stream": True}
    with connect(ws_url(server, session), additional_headers=headers) as held:
        held.send(json.dumps({"text_chunk": "Hello there.", "is_final": True}))
        assert isinstance(held.recv(timeout=60), bytes)  # open and served
        refused = client.post("/v1/audio/speech", json=body)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams" and refused.headers["Retry-After"]
        with connect(ws_url(server, session), additional_headers=headers) as second:
            error = json.loads(second.recv(timeout=60))
            with pytest.raises(ConnectionClosed) as closed:
                second.recv(timeout=60)
        assert error["error"]["code"] == "too_many_streams" and closed.value.rcvd.code == 4429
        assert Client(server, new_key()).post("/v1/audio/speech", json=body).status_code == 200  # another key
    deadline = time.monotonic() + 60  # the slot comes back once the WebSocket is closed
    while (response := client.post("/v1/audio/speech", json=body)).status_code == 429:
        assert time.monotonic() < deadline, "the closed WebSocket's stream was never released"
        time.sleep(0.5)
    assert response.status_code == 200
    for _ in range(3):  # each streamed response gives its slot back when it ends
        assert client.post("/v1/audio/speech", json=body).status_code == 200


def create_session_with_key(server: LiveServer, secret: str) -> str:
    with SAMPLE.open("rb") as sample:
        response = Client(server, secret).post(
            "/v1/streaming-session", data={"max_audio_length_ms": "400"}, files={"audio_file": sample}
        )
    assert response.status_code == 200, response.text
    return response.json()["session_id"]
