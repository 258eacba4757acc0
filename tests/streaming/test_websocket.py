"""WebSocket /v1/ws/stream-text/{session_id} against a live server: both modes, cancel, disconnect, errors."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import numpy as np
import pytest
from django.utils import timezone
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.audio_checks import assert_format, decode
from tests.prometheus import scrape
from tests.streaming.conftest import FRAME_SECONDS, text_message, wav_samples, ws_url

FORMATS = ["wav", "mp3", "opus", "aac", "flac", "pcm"]
TIMEOUT = 60


def receive_until_done(ws) -> tuple[list[dict], list[bytes | dict]]:
    """Messages of one utterance in stream mode, up to `audio.done`: (events, every message in order)."""
    messages: list[bytes | dict] = []
    while True:
        message = ws.recv(timeout=TIMEOUT)
        messages.append(message if isinstance(message, bytes) else json.loads(message))
        if isinstance(messages[-1], dict) and messages[-1]["type"] in ("audio.done", "error"):
            break
    return [m for m in messages if isinstance(m, dict)], messages


def audio_of(messages: list) -> bytes:
    return b"".join(m for m in messages if isinstance(m, bytes))


def assert_closed_with(ws, code: int) -> dict:
    """The error message sent before the close, after checking the close code."""
    error = json.loads(ws.recv(timeout=TIMEOUT))
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=TIMEOUT)
    assert closed.value.rcvd.code == code
    assert error["type"] == "error"
    return error["error"]


# ---- default mode: the seed's client loop ------------------------------------------------------------


def test_default_mode_answers_each_text_message_with_one_file_of_the_text_it_completed(server, session):
    session_id = session(max_audio_length_ms=400)
    with connect(ws_url(server, session_id)) as ws:  # like the seed's client: no Origin header
        answers = []
        for chunk, final in [
            ("Hello there. How", False),
            (" are you", False),
            (" today? Fine. And", False),
            (" you", True),
        ]:
            ws.send(text_message(chunk, is_final=final))
            answers.append(ws.recv(timeout=TIMEOUT))
    assert all(isinstance(answer, bytes) for answer in answers)
    assert [len(wav_samples(answer)) for answer in answers] == [9600, 0, 2 * 9600, 9600]
    for answer in answers:
        assert answer[:4] == b"RIFF"
        assert decode(answer, "wav").sample_rate == 24_000


@pytest.mark.parametrize("fmt", FORMATS)
def test_default_mode_files_are_in_the_sessions_format(server, session, fmt):
    session_id = session(output_format=fmt, max_audio_length_ms=800)
    with connect(ws_url(server, session_id)) as ws:
        ws.send(text_message("Not finished", is_final=False))
        empty = ws.recv(timeout=TIMEOUT)
        ws.send(text_message(" yet.", is_final=True))
        full = ws.recv(timeout=TIMEOUT)
    decoded = decode(full, fmt)
    assert_format(decoded, fmt)
    assert decoded.duration == pytest.approx(0.8, abs=0.09)
    # Daphne cannot send an empty message: a file with no samples (wav), or one silent sample
    assert isinstance(empty, bytes) and empty
    assert decode(empty, fmt).duration < 0.1
    if fmt == "wav":
        assert len(wav_samples(empty)) == 0


def test_queued_messages_are_answered_in_order(server, session):
    """Three messages sent at once: the answers come in the order sent, each with its own text's audio."""
    session_id = session(max_audio_length_ms=240)
    with connect(ws_url(server, session_id)) as ws:
        for chunk in ("One. Two. Three.", "Four", " four. Five.", "Six"):
            ws.send(text_message(chunk))
        ws.send(text_message("", is_final=True))
        answers = [len(wav_samples(ws.recv(timeout=TIMEOUT))) for _ in range(5)]
    assert answers == [3 * 5760, 0, 2 * 5760, 0, 5760]


# ---- stream mode ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_stream_mode_sends_one_continuous_stream_per_utterance(server, session, fmt):
    session_id = session(output_format=fmt, max_audio_length_ms=400)
    with connect(ws_url(server, session_id, mode="stream")) as ws:
        ws.send(text_message("First sentence. Second"))
        ws.send(text_message(" sentence.", is_final=True))
        events, messages = receive_until_done(ws)
        ws.send(text_message("Another utterance.", is_final=True))
        _, second = receive_until_done(ws)
    assert [event["type"] for event in events] == [
        "segment.started",
        "segment.done",
        "segment.started",
        "segment.done",
        "audio.done",
    ]
    assert [event["text"] for event in events if event["type"] == "segment.started"] == [
        "First sentence.",
        "Second sentence.",
    ]
    assert [event["duration_seconds"] for event in events if event["type"] == "segment.done"] == [0.4, 0.4]
    audio = audio_of(messages)
    decoded = decode(audio, fmt)
    assert_format(decoded, fmt)
    assert decoded.duration == pytest.approx(0.8, abs=0.09)
    assert decode(audio_of(second), fmt).duration == pytest.approx(0.4, abs=0.09)
    if fmt == "wav":
        assert audio[4:8] == b"\xff\xff\xff\xff"
        assert audio_of(second)[:4] == b"RIFF"  # a new stream, with its own header


def test_stream_mode_audio_leaves_as_it_is_generated_between_its_segment_events(server, session):
    session_id = session(output_format="pcm", max_audio_length_ms=800)
    with connect(ws_url(server, session_id, mode="stream")) as ws:
        ws.send(text_message("One. Two.", is_final=True))
        _, messages = receive_until_done(ws)
    kinds = [m["type"] if isinstance(m, dict) else "audio" for m in messages]
    first_done = kinds.index("segment.done")
    # each 80 ms frame leaves in its own message, inside its segment's events
    assert kinds[:first_done] == ["segment.started"] + ["audio"] * 10
    assert kinds[first_done + 1 :] == ["segment.started"] + ["audio"] * 10 + ["segment.done", "audio.done"]
    assert all(len(m) == int(FRAME_SECONDS * 24_000) * 2 for m in messages if isinstance(m, bytes))


def test_text_cut_into_single_characters_is_spoken_as_whole_sentences(server, session):
    session_id = session(output_format="pcm", max_audio_length_ms=160)
    text = "Hello world, this is it. And that's all!"
    with connect(ws_url(server, session_id, mode="stream")) as ws:
        for char in text:
            ws.send(text_message(char))
        ws.send(text_message("", is_final=True))
        events, _ = receive_until_done(ws)
    started = [event["text"] for event in events if event["type"] == "segment.started"]
    assert started == ["Hello world, this is it.", "And that's all!"]


def test_final_with_nothing_to_say_ends_the_utterance_without_audio(server, session):
    with connect(ws_url(server, session(), mode="stream")) as ws:
        ws.send(text_message("   ", is_final=True))
        events, messages = receive_until_done(ws)
    assert messages == [{"type": "audio.done"}]


# ---- cancel and disconnect ------------------------------------------------------------------------------


def test_cancel_in_stream_mode_stops_the_utterance_and_drops_queued_text(server, session):
    session_id = session(output_format="pcm", max_audio_length_ms=60_000)
    with connect(ws_url(server, session_id, mode="stream")) as ws:
        ws.send(text_message("A very long first sentence. A second sentence. And a third"))
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "segment.started"
        assert isinstance(ws.recv(timeout=TIMEOUT), bytes)
        ws.send(json.dumps({"type": "cancel"}))
        events, messages = receive_until_done(ws)
        assert events[-1] == {"type": "audio.done", "cancelled": True}
        assert not [event for event in events if event["type"] == "segment.started"]  # the second was dropped
        assert server.wait_idle()["active_requests"] == 0
        ws.send(text_message("", is_final=True))  # the buffered "And a third" was dropped too
        assert receive_until_done(ws)[1] == [{"type": "audio.done"}]
    from streaming.models import StreamingSession

    assert StreamingSession.objects.get(pk=session_id).text_buffer == ""


def test_cancel_in_default_mode_answers_the_pending_messages_with_no_audio(server, session):
    session_id = session(max_audio_length_ms=60_000)
    with connect(ws_url(server, session_id)) as ws:
        ws.send(text_message("A very long first sentence."))
        ws.send(text_message("A second sentence."))
        ws.send(text_message("Buffered"))
        time.sleep(0.3)  # let the first sentence start; the answers are the same if it has not
        ws.send(json.dumps({"type": "cancel"}))
        answers = [ws.recv(timeout=TIMEOUT) for _ in range(3)]
        assert [len(wav_samples(answer)) for answer in answers] == [0, 0, 0]
        assert server.wait_idle()["active_requests"] == 0
        ws.send(text_message("", is_final=True))
        assert len(wav_samples(ws.recv(timeout=TIMEOUT))) == 0


def test_disconnecting_mid_stream_stops_the_generation(server, session):
    """A 60 s cap is 750 frames; the engine must go idle long before it could have made them all. Counted in engine
    steps after the close (one frame each, this the only request), so how fast the client read cannot move it."""
    session_id = session(output_format="pcm", max_audio_length_ms=60_000)
    assert server.wait_idle()["active_requests"] == 0
    ws = connect(ws_url(server, session_id, mode="stream"))
    ws.send(text_message("Keep talking for a long while.", is_final=True))
    assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "segment.started"
    for _ in range(10):
        assert isinstance(ws.recv(timeout=TIMEOUT), bytes)
    steps = scrape(server.url).value("csm_batch_size_count")  # what follows is the engine noticing the close
    ws.close()
    model = server.wait_idle(timeout=60)
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)
    assert scrape(server.url).value("csm_batch_size_count") - steps < 739 // 2


# ---- sessions and malformed messages -------------------------------------------------------------------


@pytest.mark.parametrize("session_id", ["00000000-0000-0000-0000-000000000000", "not-a-uuid"])
def test_unknown_session_is_closed_with_4404(server, session_id):
    with connect(ws_url(server, session_id)) as ws:
        error = assert_closed_with(ws, 4404)
    assert error["code"] == "session_not_found"


def test_expired_session_is_closed_with_4404(server, session):
    from streaming.models import StreamingSession

    session_id = session()
    StreamingSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    with connect(ws_url(server, session_id)) as ws:
        assert "expired" in assert_closed_with(ws, 4404)["message"]


def test_session_expiring_while_connected_is_closed_with_4404_at_the_next_message(server, session):
    from streaming.models import StreamingSession

    session_id = session(max_audio_length_ms=160)
    with connect(ws_url(server, session_id)) as ws:
        ws.send(text_message("Hi.", is_final=True))
        assert len(wav_samples(ws.recv(timeout=TIMEOUT))) == 160 * 24
        StreamingSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        ws.send(text_message("Again.", is_final=True))
        assert_closed_with(ws, 4404)


def test_unknown_mode_is_closed_with_4400(server, session):
    with connect(ws_url(server, session(), mode="bogus")) as ws:
        assert "mode" in assert_closed_with(ws, 4400)["message"]


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ("{not json", None),
        ("[1, 2]", None),
        ('{"type": "dance"}', "type"),
        ('{"is_final": false}', "text_chunk"),
        ('{"text_chunk": 5, "is_final": "perhaps"}', "is_final"),
        (b"\x00\x01", None),
    ],
)
def test_malformed_messages_get_an_error_and_the_socket_stays_usable(server, session, message, param):
    with connect(ws_url(server, session(max_audio_length_ms=160))) as ws:
        ws.send(message)
        error = json.loads(ws.recv(timeout=TIMEOUT))
        assert error["type"] == "error"
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["param"] == param
        ws.send(text_message("Still here.", is_final=True))
        assert len(wav_samples(ws.recv(timeout=TIMEOUT))) == 160 * 24


# ---- concurrency -----------------------------------------------------------------------------------------


def test_two_sessions_at_once_do_not_mix_their_audio(server, session):
    """Greedy (topk 1) generation is deterministic: each session's audio, spoken while the other one speaks,
    equals its audio spoken alone, but for float rounding (a sample or two of 16-bit PCM may be one step off).
    Rounding can also, rarely, flip a greedy draw at a near tie (tests/speech/engine/draws.py proves that is all
    batching changes); the session's audio then goes its own way from that frame, and up to it still matches."""
    voices = [{"speaker_id": 1, "text": "The first voice speaks."}, {"speaker_id": 2, "text": "Then the second."}]

    def speak(session_id: str, text: str, results: list, index: int) -> None:
        with connect(ws_url(server, session_id)) as ws:
            ws.send(text_message(text, is_final=True))
            results[index] = wav_samples(ws.recv(timeout=TIMEOUT))

    alone: list = [None, None]
    for index, voice in enumerate(voices):
        speak(session(topk=1, speaker_id=voice["speaker_id"], max_audio_length_ms=1200), voice["text"], alone, index)
    together: list = [None, None]
    ids = [session(topk=1, speaker_id=voice["speaker_id"], max_audio_length_ms=1200) for voice in voices]
    threads = [
        threading.Thread(target=speak, args=(ids[index], voice["text"], together, index))
        for index, voice in enumerate(voices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert np.abs(alone[0].astype(int) - alone[1]).max() > 1000
    frames = round(1.2 / FRAME_SECONDS)
    parted = []
    for index in range(2):
        assert len(together[index]) == len(alone[index]) == 1200 * 24
        alike = _frames_alike(together[index], alone[index])
        assert alike > 0 or _frames_alike(together[index], alone[1 - index]) == 0, f"session {index} has the other's"
        parted.append(alike < frames)
    assert parted.count(True) <= 1, "both sessions changed when spoken together"


def _frames_alike(audio: np.ndarray, reference: np.ndarray) -> int:
    """How many leading 80 ms frames of `audio` (24 kHz) equal `reference`'s within two steps of 16-bit PCM."""
    steps = np.abs(audio.astype(int) - reference).reshape(-1, round(24000 * FRAME_SECONDS)).max(axis=1)
    apart = np.flatnonzero(steps > 2)
    return int(apart[0]) if apart.size else len(steps)
