"""Helpers for tests that call a live server with API keys, and for making consents and voices."""

from __future__ import annotations

from pathlib import Path

import requests

from tests.conftest import SAMPLE_TEXT, LiveServer
from tests.fixtures import SAMPLE


class Client(requests.Session):
    """Relative URLs to a live server, with `Authorization: Bearer <secret>` when a secret is given."""

    def __init__(self, server: LiveServer, secret: str | None = None) -> None:
        super().__init__()
        self.base_url = server.url
        self.secret = secret
        if secret:
            self.headers["Authorization"] = f"Bearer {secret}"

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 120)
        return super().request(method, self.base_url + url, *args, **kwargs)


def new_key(name: str = "test key") -> str:
    """A new API key in the test database; returns its secret."""
    from accounts.services import create_api_key

    return create_api_key(name=name)[1]


def create_consent(client: Client, *, name: str = "Alice", language: str = "en-US", path: Path = SAMPLE) -> dict:
    with path.open("rb") as recording:
        response = client.post(
            "/v1/audio/voice_consents", data={"name": name, "language": language}, files={"recording": recording}
        )
    assert response.status_code == 200, response.text
    return response.json()


def create_voice(client: Client, consent: str, *, name: str = "alice", path: Path = SAMPLE, **extra) -> dict:
    with path.open("rb") as sample:
        response = client.post(
            "/v1/audio/voices",
            data={"name": name, "consent": consent, "transcript": SAMPLE_TEXT, **extra},
            files={"audio_sample": (path.name, sample)},
        )
    assert response.status_code == 200, response.text
    return response.json()


def speak(client: Client, voice, **fields) -> requests.Response:
    body = {"model": "tts-1", "input": "Hi.", "voice": voice, "response_format": "pcm", "max_audio_length_ms": 160}
    return client.post("/v1/audio/speech", json={**body, **fields})


def clone(client: Client, **fields) -> requests.Response:
    """/v1/voice-clone with a saved voice (`voice_id` in fields) or the sample."""
    data = {"text": "Hi.", "max_audio_length_ms": 160, **fields}
    if "voice_id" in fields:
        return client.post("/v1/voice-clone", data=data)
    with SAMPLE.open("rb") as sample:
        return client.post("/v1/voice-clone", data=data, files={"audio_file": sample})
