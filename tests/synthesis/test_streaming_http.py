"""Chunked HTTP streaming of /v1/audio/speech (`stream`, `stream_format: sse`) and /v1/voice-clone (`stream=true`)."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests.audio_checks import CONTENT_TYPES, assert_format, decode
from tests.conftest import SAMPLE_TEXT
from tests.prometheus import scrape

FORMATS = list(CONTENT_TYPES)


def stream_speech(api, **fields) -> requests.Response:
    body = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "max_audio_length_ms": 800, **fields}
    return api.post("/v1/audio/speech", json=body, stream=True)


def stream_clone(api, sample_path, **fields) -> requests.Response:
    data = {"text": "Hello there.", "context_text": SAMPLE_TEXT, "max_audio_length_ms": 800, "stream": "true", **fields}
    with sample_path.open("rb") as sample:
        return api.post("/v1/voice-clone", data=data, files={"audio_file": sample}, stream=True)


def chunks_of(response: requests.Response) -> list[bytes]:
    """The body as the chunks that arrived (chunk_size=None yields each piece as it is received)."""
    assert response.status_code == 200, response.text
    return [chunk for chunk in response.iter_content(chunk_size=None) if chunk]


def assert_streamed(chunks: list[bytes], fmt: str, seconds: float) -> None:
    assert len(chunks) > 1, "the audio should arrive in pieces as it is generated"
    body = b"".join(chunks)
    decoded = decode(body, fmt)
    assert_format(decoded, fmt)
    assert (decoded.sample_rate, decoded.channels) == (24_000, 1)
    assert decoded.duration == pytest.approx(seconds, abs=0.09)
    if fmt == "wav":
        assert body[:4] == b"RIFF"
        assert body[4:8] == b"\xff\xff\xff\xff"  # the size is unknown while streaming
        assert body[body.index(b"data") + 4 :][:4] == b"\xff\xff\xff\xff"


@pytest.mark.parametrize("fmt", FORMATS)
def test_speech_streams_every_format_as_it_is_generated(api, fmt):
    response = stream_speech(api, response_format=fmt, stream=True)
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert_streamed(chunks_of(response), fmt, 0.8)


def test_pcm_is_sent_as_it_is_generated_without_asking(api):
    """Pipecat and the Agents SDK ask for pcm without `stream` and play it as it arrives, as OpenAI sends it."""
    response = stream_speech(api, response_format="pcm")
    assert response.headers["Content-Type"] == CONTENT_TYPES["pcm"]
    assert response.headers.get("Transfer-Encoding") == "chunked"
    assert_streamed(chunks_of(response), "pcm", 0.8)


@pytest.mark.parametrize("fmt", FORMATS)
def test_stream_format_audio_is_the_same_as_stream_true(api, fmt):
    assert_streamed(chunks_of(stream_speech(api, response_format=fmt, stream_format="audio", stream=True)), fmt, 0.8)


@pytest.mark.parametrize("fmt", FORMATS)
def test_voice_clone_streams_every_format(api, sample_path, fmt):
    response = stream_clone(api, sample_path, output_format=fmt)
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    assert_streamed(chunks_of(response), fmt, 0.8)


def test_long_input_streams_sentence_by_sentence_into_one_stream(api):
    text = "First sentence here. Second sentence here. Third sentence here."
    assert_streamed(chunks_of(stream_speech(api, input=text, response_format="wav", stream=True)), "wav", 2.4)


def sse_events(response: requests.Response) -> list[dict]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    for line in response.iter_lines():
        if line.startswith(b"data: "):
            events.append(json.loads(line[len(b"data: ") :]))
        else:
            assert line == b"", line
    return events


@pytest.mark.parametrize("fmt", FORMATS)
def test_sse_deltas_decode_to_the_full_audio_and_end_with_usage(api, fmt):
    events = sse_events(stream_speech(api, input="Hello there.", response_format=fmt, stream_format="sse"))
    deltas, done = events[:-1], events[-1]
    assert len(deltas) > 1
    assert {event["type"] for event in deltas} == {"speech.audio.delta"}
    audio = b"".join(base64.b64decode(event["audio"]) for event in deltas)
    decoded = decode(audio, fmt)
    assert_format(decoded, fmt)
    assert decoded.duration == pytest.approx(0.8, abs=0.09)
    assert done["type"] == "speech.audio.done"
    usage = done["usage"]
    assert usage["output_tokens"] == 10  # frames
    assert usage["input_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


@pytest.mark.parametrize("fields", [{"stream": True}, {"stream_format": "audio"}, {"stream_format": "sse"}])
def test_speed_applies_while_streaming(api, fields):
    """Clients that always stream send `speed` too (LiveKit's plugin): the audio comes once it is stretched."""
    response = stream_speech(api, response_format="wav", max_audio_length_ms=1600, speed=2.0, **fields)
    if fields.get("stream_format") == "sse":
        events = sse_events(response)
        assert events[-1]["type"] == "speech.audio.done"
        body = b"".join(base64.b64decode(event["audio"]) for event in events[:-1])
    else:
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == CONTENT_TYPES["wav"]
        body = response.content
    assert decode(body, "wav").duration == pytest.approx(0.8, abs=0.09)


@pytest.mark.parametrize("stream", ["speech", "sse", "voice-clone"])
def test_client_disconnecting_mid_stream_stops_the_generation(api, server, sample_path, stream):
    """Capped at 60 s of audio (750 frames): the engine must go idle long before it could have made them all.
    Counted in engine steps after the close (one frame each, this the only request), so how fast the client read
    cannot move the bound."""
    assert server.wait_idle()["active_requests"] == 0
    if stream == "voice-clone":
        response = stream_clone(api, sample_path, output_format="pcm", max_audio_length_ms=60_000)
    else:
        fields = {"stream_format": "sse"} if stream == "sse" else {"stream": True}
        response = stream_speech(api, response_format="pcm", max_audio_length_ms=60_000, **fields)
    assert response.status_code == 200
    pieces = response.iter_content(chunk_size=None)
    received = 0
    while received < 10 * 3840:  # ten 80 ms frames of pcm (more as base64 events)
        received += len(next(pieces))
    steps = scrape(server.url).value("csm_batch_size_count")  # what follows is the engine noticing the close
    response.close()
    model = server.wait_idle(timeout=60)
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)
    assert scrape(server.url).value("csm_batch_size_count") - steps < 739 // 2


def test_an_explicit_stream_format_audio_streams_and_errors_before_audio_keep_their_status(api, sample_path):
    import base64

    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "wav", "max_audio_length_ms": 240}
    with api.post("/v1/audio/speech", json={**body, "stream_format": "audio"}, stream=True) as response:
        assert response.status_code == 200
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert response.raw.read(8)[:4] == b"RIFF"
    sample = base64.b64encode(sample_path.read_bytes()).decode()
    too_long = {**body, "voice_sample": sample, "voice_sample_text": "word " * 399, "input": "x" * 1500}
    for extra in ({"stream": True}, {"stream_format": "sse"}):
        response = api.post("/v1/audio/speech", json={**too_long, **extra})
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "context_too_long"
