"""POST /v1/stream-text: WAV of the text each chunk completes, buffered across requests."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from django.utils import timezone

from tests.streaming.conftest import wav_samples

CAP_SAMPLES = 400 * 24  # each segment is capped at 400 ms: tiny-random babbles until its cap


def post(api, session_id: str, text_chunk, **fields):
    return api.post("/v1/stream-text", json={"session_id": session_id, "text_chunk": text_chunk, **fields})


def test_incomplete_text_gets_a_valid_wav_with_no_samples(api, session):
    response = post(api, session(), "Hello there, how are", is_final=False)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    data = response.content
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    riff_size = struct.unpack("<I", data[4:8])[0]
    assert riff_size == len(data) - 8
    assert struct.unpack("<I", data[data.index(b"data") + 4 :][:4])[0] == 0
    assert len(wav_samples(data)) == 0


def test_each_chunk_returns_the_segments_it_completed_and_final_flushes_the_rest(api, session):
    session_id = session()
    lengths = [
        len(wav_samples(post(api, session_id, chunk, is_final=final).content))
        for chunk, final in [
            ("One. Two", False),  # completes "One."
            (" two. Three! Four", False),  # completes "Two two." and "Three!"
            (" four", False),  # completes nothing
            (" and the rest", True),  # the rest
        ]
    ]
    assert lengths == [CAP_SAMPLES, 2 * CAP_SAMPLES, 0, CAP_SAMPLES]


def test_text_cut_anywhere_is_joined_before_it_is_spoken(api, session):
    from streaming.models import StreamingSession

    session_id = session()
    text = "Hello world. Bye"
    lengths = [len(wav_samples(post(api, session_id, text[i : i + 3]).content)) for i in range(0, len(text), 3)]
    assert lengths == [0, 0, 0, CAP_SAMPLES, 0, 0]  # "Hello world." completes with the chunk "ld."
    stored = StreamingSession.objects.get(pk=session_id)
    assert (stored.previous_text, stored.text_buffer) == ("Hello world.", "Bye")


def test_final_with_nothing_left_is_an_empty_wav(api, session):
    session_id = session()
    assert len(wav_samples(post(api, session_id, "Done.").content)) == CAP_SAMPLES
    assert len(wav_samples(post(api, session_id, "", is_final=True).content)) == 0
    assert len(wav_samples(post(api, session_id, None, is_final=True).content)) == 0


def test_each_use_extends_the_session(api, session):
    from streaming.models import StreamingSession

    session_id = session()
    StreamingSession.objects.filter(pk=session_id).update(expires_at=timezone.now() + dt.timedelta(seconds=30))
    assert post(api, session_id, "Hi", is_final=False).status_code == 200
    left = StreamingSession.objects.get(pk=session_id).expires_at - timezone.now()
    assert left > dt.timedelta(minutes=59)


def test_expired_session_is_404(api, session):
    from streaming.models import StreamingSession

    session_id = session()
    StreamingSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = post(api, session_id, "Hello.")
    assert response.status_code == 404
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("session_not_found", "session_id")
    assert "expired" in error["message"]


@pytest.mark.parametrize("session_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_unknown_session_is_404(api, session_id):
    response = post(api, session_id, "Hello.")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"text_chunk": "Hi."}, "session_id"),
        ({"session_id": "x"}, "text_chunk"),
        ({"session_id": "x", "text_chunk": "x" * 4097}, "text_chunk"),
        ({"session_id": "x", "text_chunk": "Hi.", "is_final": "maybe"}, "is_final"),
    ],
)
def test_invalid_body_is_400(api, body, param):
    response = api.post("/v1/stream-text", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
