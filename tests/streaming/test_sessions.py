"""POST /v1/streaming-session: stored sessions, their voice, ownership, and a second server serving them."""

from __future__ import annotations

import datetime as dt
import math

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.audio_checks import decode
from tests.conftest import SAMPLE_TEXT, LiveServer, _database_url
from tests.fixtures import BAD_AUDIO_DIR, SAMPLE
from tests.keys import Client, create_consent, create_voice, new_key
from tests.streaming.conftest import create_session, text_message, wav_samples, ws_url


def post_session(server: LiveServer, files: dict | None = None, headers: dict | None = None, **data):
    return requests.post(f"{server.url}/v1/streaming-session", data=data, files=files, headers=headers, timeout=60)


def stream_text(server: LiveServer, session_id: str, text: str, *, is_final: bool = True, headers=None):
    body = {"session_id": session_id, "text_chunk": text, "is_final": is_final}
    return requests.post(f"{server.url}/v1/stream-text", json=body, headers=headers, timeout=60)


def test_session_is_stored_with_its_sample_prepared_context_and_parameters(server, sample_path):
    from streaming.models import StreamingSession

    with sample_path.open("rb") as sample:
        response = post_session(
            server,
            files={"audio_file": sample},
            context_text=SAMPLE_TEXT,
            speaker_id="3",
            temperature="0.8",
            topk="7",
            output_format="mp3",
            max_audio_length_ms="640",
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["message"] == "Streaming session created successfully"
    session = StreamingSession.objects.get(pk=body["session_id"])
    assert session.voice_sample.read() == sample_path.read_bytes()
    assert session.voice_sample_text == SAMPLE_TEXT
    assert (session.speaker_id, session.temperature, session.topk) == (3, 0.8, 7)
    assert (session.output_format, session.max_audio_length_ms) == ("mp3", 640)
    # the prepared context: Mimi codes [codebooks][frames], one frame per 80 ms of the sample
    assert len(session.voice_codes) == 8  # tiny-random's codebooks
    sample_seconds = decode(sample_path.read_bytes(), "wav").duration
    assert {len(row) for row in session.voice_codes} == {math.ceil(sample_seconds / 0.08)}
    assert session.text_buffer == session.previous_text == ""
    assert session.previous_codes is None
    assert abs(session.expires_at - session.created_at - dt.timedelta(hours=1)) < dt.timedelta(seconds=5)


def test_defaults(server, sample_path):
    from streaming.models import StreamingSession

    session = StreamingSession.objects.get(pk=create_session(server, sample_path, max_audio_length_ms=None))
    assert (session.speaker_id, session.temperature, session.topk, session.output_format) == (999, 0.6, 20, "wav")
    assert session.max_audio_length_ms is None


@pytest.mark.parametrize(
    ("data", "sample", "status", "param"),
    [
        ({}, None, 400, "audio_file"),
        ({"output_format": "ogg"}, SAMPLE, 400, "output_format"),
        ({"temperature": "3"}, SAMPLE, 400, "temperature"),
        ({"topk": "0"}, SAMPLE, 400, "topk"),
        ({"max_audio_length_ms": "10"}, SAMPLE, 400, "max_audio_length_ms"),
        ({}, BAD_AUDIO_DIR / "silence_2s.wav", 400, "audio_file"),
        ({}, BAD_AUDIO_DIR / "not_audio.mp3", 400, "audio_file"),
        ({"voice_id": "voice_doesnotexist"}, None, 404, "voice_id"),
        ({"voice_id": "alloy"}, SAMPLE, 400, "voice_id"),  # a sample and a voice: ambiguous
    ],
)
def test_invalid_input_is_refused_in_openai_shape_and_nothing_is_stored(server, data, sample, status, param):
    from streaming.models import StreamingSession

    files = None
    if sample:
        files = {"audio_file": sample.read_bytes()}
    response = post_session(server, files=files, **data)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert not StreamingSession.objects.exists()


def test_oversized_sample_is_413(server):
    response = post_session(server, files={"audio_file": b"\0" * (10 * 1024 * 1024 + 1)})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_large"


def test_session_with_a_saved_voice_copies_its_codes_and_speaker(server):
    from streaming.models import StreamingSession
    from voices.models import Voice

    client = Client(server)
    voice = create_voice(client, create_consent(client)["id"], speaker_id="12")
    response = post_session(server, voice_id=voice["id"], max_audio_length_ms="160")
    assert response.status_code == 200, response.text
    session = StreamingSession.objects.get(pk=response.json()["session_id"])
    saved = Voice.objects.get(pk=voice["id"])
    assert session.voice_id == saved.pk
    assert session.speaker_id == 12
    assert session.voice_codes == saved.codes_tensor().tolist()
    assert session.voice_sample_text == SAMPLE_TEXT
    audio = stream_text(server, str(session.pk), "Hello.")
    assert audio.status_code == 200
    assert len(wav_samples(audio.content)) == 160 * 24


def test_sessions_belong_to_the_key_that_made_them(auth_server, sample_path):
    owner, other = new_key("owner"), new_key("other")
    with sample_path.open("rb") as sample:
        response = post_session(
            auth_server,
            files={"audio_file": sample},
            headers={"Authorization": f"Bearer {owner}"},
            max_audio_length_ms="160",
        )
    assert response.status_code == 200, response.text
    session_id = response.json()["session_id"]
    assert stream_text(auth_server, session_id, "Hi.").status_code == 401
    assert stream_text(auth_server, session_id, "Hi.", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    answer = stream_text(auth_server, session_id, "Hi.", headers={"Authorization": f"Bearer {owner}"})
    assert answer.status_code == 200
    assert len(wav_samples(answer.content)) == 160 * 24

    for secret, code in ((None, 4401), (other, 4404)):
        headers = {"Authorization": f"Bearer {secret}"} if secret else {}
        with connect(ws_url(auth_server, session_id), additional_headers=headers) as ws:
            assert '"error"' in ws.recv(timeout=30)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=30)
        assert closed.value.rcvd.code == code
    with connect(ws_url(auth_server, session_id), additional_headers={"Authorization": f"Bearer {owner}"}) as ws:
        ws.send(text_message("Hi.", is_final=True))
        assert len(wav_samples(ws.recv(timeout=60))) == 160 * 24


@pytest.fixture(scope="module")
def second_server(server) -> LiveServer:
    """Another server process on the same database and media."""
    from django.db import connection

    other = LiveServer(database_url=_database_url(connection.settings_dict))
    yield other
    other.stop()


def test_a_second_server_process_continues_a_session_with_the_voice_carried_across(server, second_server, sample_path):
    """A session made and started on one server is continued by another: its buffered text, and its previous
    segment as context. Greedy (topk 1) generation is deterministic: two sessions with the same previous segment
    speak the same audio on the second server, and a session without one speaks differently."""
    from streaming.models import StreamingSession

    greedy = {"topk": 1, "max_audio_length_ms": 1200}
    first, second, fresh = (create_session(server, sample_path, **greedy) for _ in range(3))
    for session_id in (first, second):
        assert stream_text(server, session_id, "It was a dark and stormy night.").status_code == 200
    assert (
        stream_text(server, first, "Then", is_final=False).content
        == stream_text(server, second, "Then", is_final=False).content
    )
    previous = {tuple(map(tuple, s.previous_codes)) for s in StreamingSession.objects.filter(pk__in=[first, second])}
    assert len(previous) == 1

    continued = [
        wav_samples(stream_text(second_server, session_id, " the rain fell.").content) for session_id in (first, second)
    ]
    without = wav_samples(stream_text(second_server, fresh, "Then the rain fell.").content)
    assert len(continued[0]) == len(without) == 1200 * 24
    assert (continued[0] == continued[1]).all()
    assert not (continued[0] == without).all(), "the previous segment should change the audio"
    assert StreamingSession.objects.get(pk=first).previous_text == "Then the rain fell."

    with connect(ws_url(second_server, first)) as ws:
        ws.send(text_message("And on the WebSocket too.", is_final=True))
        assert len(wav_samples(ws.recv(timeout=60))) == 1200 * 24
