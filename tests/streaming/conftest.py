"""Helpers for the streaming tests: sessions made over HTTP, WebSocket URLs, reading audio back."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.audio_checks import decode
from tests.conftest import SAMPLE_TEXT, LiveServer

FRAME_SECONDS = 0.08


def create_session(server: LiveServer, sample_path: Path, **fields) -> str:
    """A session on `server` made from the sample; returns its id."""
    data = {"context_text": SAMPLE_TEXT, "max_audio_length_ms": 400, **fields}
    data = {key: str(value) for key, value in data.items() if value is not None}
    with sample_path.open("rb") as sample:
        response = requests.post(
            f"{server.url}/v1/streaming-session", data=data, files={"audio_file": sample}, timeout=60
        )
    assert response.status_code == 200, response.text
    return response.json()["session_id"]


def ws_url(server: LiveServer, session_id: str, *, mode: str | None = None) -> str:
    url = server.url.replace("http://", "ws://") + f"/v1/ws/stream-text/{session_id}"
    return f"{url}?mode={mode}" if mode else url


def text_message(text_chunk: str, *, is_final: bool = False) -> str:
    return json.dumps({"text_chunk": text_chunk, "is_final": is_final})


def wav_samples(data: bytes) -> np.ndarray:
    """The int16 samples of a wav file (or a streamed wav with the unknown-size header)."""
    start = data.index(b"data") + 8
    return np.frombuffer(data[start : start + (len(data) - start) // 2 * 2], dtype="<i2")


def duration(data: bytes, fmt: str = "wav") -> float:
    return decode(data, fmt).duration


@pytest.fixture
def session(server, sample_path):
    """Makes sessions on the shared server: session(**fields) -> id."""
    return lambda **fields: create_session(server, sample_path, **fields)
