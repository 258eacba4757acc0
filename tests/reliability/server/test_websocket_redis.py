"""Issue 12, item 1: with the Redis channel layer, WebSockets stay open while idle (they were closed with 1011
after 5 s: redis-py 8's default socket timeout cut channels_redis's 5 s blocking read)."""

from __future__ import annotations

import time

from websockets.sync.client import connect

from tests.conftest import SAMPLE_TEXT
from tests.keys import SAMPLE
from tests.reliability.server.conftest import needs_redis
from tests.streaming.conftest import text_message, wav_samples, ws_url

pytestmark = needs_redis
IDLE_SECONDS = 20


def create_session(client) -> str:
    with SAMPLE.open("rb") as sample:
        response = client.post(
            "/v1/streaming-session",
            data={"context_text": SAMPLE_TEXT, "max_audio_length_ms": "400"},
            files={"audio_file": sample},
        )
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def test_a_websocket_held_idle_for_20_seconds_is_still_open_and_answers(production_server, client):
    url = ws_url(production_server, create_session(client))
    with connect(url, additional_headers={"Authorization": f"Bearer {client.secret}"}) as ws:
        time.sleep(IDLE_SECONDS)
        ws.send(text_message("Hello there.", is_final=True))
        answer = ws.recv(timeout=60)
    assert isinstance(answer, bytes)
    assert len(wav_samples(answer)) > 0


def test_health_answers_ok_while_websockets_wait_on_the_channel_layer(production_server, client):
    """/health's channel-layer check shares the process with every open WebSocket, each waiting on the layer."""
    urls = [ws_url(production_server, create_session(client)) for _ in range(3)]
    headers = {"Authorization": f"Bearer {client.secret}"}
    sockets = [connect(url, additional_headers=headers) for url in urls]
    try:
        reports = []
        for _ in range(10):
            reports.append(client.get("/health").json())
            time.sleep(0.5)
    finally:
        for ws in sockets:
            ws.close()
    assert [report["channel_layer"] for report in reports] == [{"status": "ok"}] * 10
