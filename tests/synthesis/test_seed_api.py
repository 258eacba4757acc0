"""`seed` on /v1/audio/speech, /v1/voice-clone and streaming sessions: validated, and the same seed speaks the
same audio, bit for bit, from two server processes."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import LiveServer, _database_url
from tests.streaming.conftest import create_session

SAMPLED = {"temperature": 0.9, "topk": 20}


@pytest.fixture(scope="module")
def other_server(server) -> LiveServer:
    """A second server process (its own model load, engine and worker) on the same database and media."""
    from django.db import connection

    other = LiveServer(database_url=_database_url(connection.settings_dict))
    yield other
    other.stop()


def alone(server: LiveServer) -> str:
    """The server's URL once its engine is idle: a seeded request then runs alone, so no request beside it can
    round its logits differently (README, `seed`) and flip a near-tie draw."""
    model = server.wait_idle()
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)
    return server.url


def speech_pcm(server: LiveServer, **fields) -> bytes:
    body = {"model": "tts-1", "input": "Seeds make it repeatable.", "voice": "alloy", "response_format": "pcm"}
    response = requests.post(
        f"{alone(server)}/v1/audio/speech", json={**body, "max_audio_length_ms": 800, **SAMPLED, **fields}, timeout=60
    )
    assert response.status_code == 200, response.text
    return response.content


def clone_pcm(server: LiveServer, sample_path, **fields) -> bytes:
    data = {"text": "Cloned, and seeded.", "output_format": "pcm", "stream": "true", "max_audio_length_ms": "640"}
    with sample_path.open("rb") as sample:
        response = requests.post(
            f"{alone(server)}/v1/voice-clone",
            data={**data, **SAMPLED, **fields},
            files={"audio_file": sample},
            timeout=60,
        )
    assert response.status_code == 200, response.text
    return response.content


def session_segments(server: LiveServer, session_id: str) -> list[bytes]:
    """The audio of two segments fed one after the other (the second has the first as its previous segment)."""
    segments = []
    for text in ("The first segment.", "And the second one."):
        response = requests.post(
            f"{alone(server)}/v1/stream-text",
            json={"session_id": session_id, "text_chunk": text, "is_final": True},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        segments.append(response.content)
    return segments


def test_the_same_seed_speaks_the_same_pcm_in_two_server_processes(server, other_server):
    first = speech_pcm(server, seed=7)
    assert len(first) == 800 * 24 * 2  # 16-bit samples at 24 kHz
    assert speech_pcm(other_server, seed=7) == first
    assert speech_pcm(server, seed=7) == first
    assert speech_pcm(server, seed=8) != first
    assert speech_pcm(server) != speech_pcm(server)  # no seed: random, as before


def test_a_seeded_voice_clone_is_the_same_in_two_server_processes(server, other_server, sample_path):
    first = clone_pcm(server, sample_path, seed="4294967295")
    assert clone_pcm(other_server, sample_path, seed="4294967295") == first
    assert clone_pcm(server, sample_path, seed="0") != first


def test_a_seeded_session_speaks_the_same_segments_in_two_server_processes(server, other_server, sample_path):
    """Each segment has its own seed, made from the session's and the segment's number: the same texts fed to two
    sessions with the same seed speak the same audio, segment by segment, and the two segments differ."""
    fields = {"seed": 12, "max_audio_length_ms": 640, **SAMPLED}
    here = session_segments(server, create_session(server, sample_path, **fields))
    there = session_segments(other_server, create_session(other_server, sample_path, **fields))
    assert here == there
    assert here[0] != here[1]
    other_seed = session_segments(server, create_session(server, sample_path, **{**fields, "seed": 13}))
    assert other_seed[0] != here[0]


@pytest.mark.parametrize("seed", [-1, 2**32, 1.5, "twelve", True])
def test_a_seed_out_of_range_or_not_an_integer_is_400(api, sample_path, seed):
    response = api.post("/v1/audio/speech", json={"model": "tts-1", "input": "Hi.", "voice": "alloy", "seed": seed})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "seed"
    with sample_path.open("rb") as sample:
        response = api.post("/v1/voice-clone", data={"text": "Hi.", "seed": str(seed)}, files={"audio_file": sample})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "seed"
    with sample_path.open("rb") as sample:
        response = api.post("/v1/streaming-session", data={"seed": str(seed)}, files={"audio_file": sample})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "seed"


def test_the_seed_is_stored_with_the_clip_and_the_session(api, sample_path):
    from streaming.models import StreamingSession
    from synthesis.models import Clip

    with sample_path.open("rb") as sample:
        response = api.post(
            "/v1/voice-clone",
            data={"text": "Hi.", "seed": "99", "max_audio_length_ms": "160"},
            files={"audio_file": sample},
        )
    assert response.status_code == 200, response.text
    assert Clip.objects.get().parameters["seed"] == 99
    with sample_path.open("rb") as sample:
        response = api.post("/v1/streaming-session", data={"seed": "99"}, files={"audio_file": sample})
    assert StreamingSession.objects.get(pk=response.json()["session_id"]).seed == 99


def test_the_schema_documents_seed_on_the_three_endpoints(api):
    schema = api.get("/openapi.json").json()
    for path, content_type in [
        ("/v1/audio/speech", "application/json"),
        ("/v1/voice-clone", "multipart/form-data"),
        ("/v1/streaming-session", "multipart/form-data"),
    ]:
        reference = schema["paths"][path]["post"]["requestBody"]["content"][content_type]["schema"]["$ref"]
        seed = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]["properties"]["seed"]
        assert (seed["type"], seed["minimum"], seed["maximum"], seed["nullable"]) == ("integer", 0, 2**32 - 1, True)
        assert "same audio" in seed["description"]
