"""Issue 12, item 5: with the database or Redis down, requests answer 503 naming what is down (or are served,
for the rate limit's cache), never a bare 500 or a hang; /health reports each dependency and answers 503.

Each server runs in the production configuration (DEBUG off, keys required) against a dependency that is
refused (a closed port) or accepts connections and never answers (a listener that reads nothing)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, _database_url, _free_port
from tests.keys import Client, new_key

PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "reliability-tests", "CSM_REQUIRE_API_KEY": "1", "CSM_RATE_LIMIT": "60/min"}
SPEECH = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm", "max_audio_length_ms": 160}


class SilentListener:
    """A TCP port that accepts connections and never sends a byte."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.socket.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.socket.close()
        for connection in self.accepted:
            connection.close()


class SlowHealthServer(LiveServer):
    """A live server whose /health may take the database's connect timeout to answer."""

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if requests.get(f"{self.url}/health", timeout=30).json()["model"]["status"] == "ready":
                    return
            except (requests.ConnectionError, KeyError, ValueError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Daphne did not become ready:\n{Path(self.log.name).read_text()[-4000:]}")


@pytest.fixture
def start():
    servers: list[LiveServer] = []

    def start(*, database_url: str | None = None, **env: str) -> LiveServer:
        from django.db import connection

        url = database_url or _database_url(connection.settings_dict)
        servers.append(SlowHealthServer(database_url=url, extra_env={**PRODUCTION, **env}))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def assert_unavailable(response, what: str) -> dict:
    assert response.status_code == 503, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "service_unavailable" and what in error["message"]
    assert response.headers["Retry-After"]
    return error


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("database", ["refused", "never answers", "missing"])
def test_a_database_down_is_503_naming_it_and_health_says_so(start, database, tmp_path):
    listener = SilentListener() if database == "never answers" else None
    urls = {
        "refused": f"postgres://postgres@127.0.0.1:{_free_port()}/test",
        "never answers": f"postgres://postgres@127.0.0.1:{listener.port if listener else 0}/test",
        "missing": f"sqlite:///{tmp_path}/no/such/folder/db.sqlite3",
    }
    try:
        server = start(database_url=urls[database], CSM_DB_CONNECT_TIMEOUT="2")
        client = Client(server, "csm-" + "x" * 40)  # checking the key needs the database
        assert_unavailable(client.post("/v1/audio/speech", json=SPEECH, timeout=60), "database")
        assert_unavailable(client.get("/v1/audio/voices", timeout=60), "database")
        health = Client(server).get("/health", timeout=60)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "unavailable" and body["database"]["status"] == "unavailable"
        assert body["model"]["status"] == "ready"
    finally:
        if listener:
            listener.close()


@pytest.mark.django_db(transaction=True)
def test_redis_refused_serves_speech_without_the_rate_limit_and_health_names_it(start):
    server = start(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0")
    client = Client(server, new_key())
    response = client.post("/v1/audio/speech", json=SPEECH, timeout=60)
    assert response.status_code == 200, response.text[:300]
    health = Client(server).get("/health", timeout=60)
    assert health.status_code == 503
    body = health.json()
    assert (body["database"]["status"], body["cache"]["status"], body["channel_layer"]["status"]) == (
        "ok",
        "unavailable",
        "unavailable",
    )
    assert "Rate limit not applied" in Path(server.log.name).read_text()


@pytest.mark.django_db(transaction=True)
def test_health_is_200_with_each_part_when_everything_answers(start):
    body = Client(start()).get("/health", timeout=60)
    assert body.status_code == 200
    parts = body.json()
    assert parts["status"] == "ok"
    assert all(parts[name]["status"] == "ok" for name in ("database", "cache", "channel_layer"))
    assert parts["model"]["status"] == "ready"
