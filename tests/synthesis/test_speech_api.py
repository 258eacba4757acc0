"""POST /v1/audio/speech over real HTTP against a Daphne server on tiny-random."""

import base64

import pytest

from tests.audio_checks import CONTENT_TYPES, assert_format, decode
from tests.conftest import SAMPLE_TEXT


def speech(api, **fields):
    body = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "max_audio_length_ms": 800, **fields}
    return api.post("/v1/audio/speech", json=body)


@pytest.mark.parametrize("fmt", list(CONTENT_TYPES))
def test_each_format_decodes_to_24k_mono_of_the_generated_length(api, fmt):
    response = speech(api, response_format=fmt, max_audio_length_ms=800, temperature=0.9)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == CONTENT_TYPES[fmt]
    decoded = decode(response.content, fmt)
    assert decoded.sample_rate == 24_000
    assert decoded.channels == 1
    assert_format(decoded, fmt)
    # tiny-random babbles until the cap: 10 frames of 80 ms (codec padding allowed).
    assert decoded.duration == pytest.approx(0.8, abs=0.09)


def test_default_format_is_mp3_and_any_accept_header_is_fine(api):
    response = api.post(
        "/v1/audio/speech",
        json={"model": "csm-1b", "input": "Hi.", "voice": "nova", "max_audio_length_ms": 400},
        headers={"Accept": "application/octet-stream"},
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/mpeg"
    assert_format(decode(response.content, "mp3"), "mp3")


def test_cloning_from_base64_sample(api, sample_path):
    sample = base64.b64encode(sample_path.read_bytes()).decode()
    response = speech(api, voice_sample=sample, voice_sample_text=SAMPLE_TEXT, response_format="wav")
    assert response.status_code == 200, response.text
    assert decode(response.content, "wav").duration == pytest.approx(0.8, abs=0.01)


def test_speed_changes_duration(api):
    normal = decode(speech(api, response_format="wav", max_audio_length_ms=1600).content, "wav").duration
    fast = decode(speech(api, response_format="wav", max_audio_length_ms=1600, speed=2.0).content, "wav").duration
    assert fast == pytest.approx(normal / 2, rel=0.08)


def test_instructions_are_accepted_and_reported_as_ignored(api):
    response = speech(api, instructions="Speak cheerfully.", response_format="pcm")
    assert response.status_code == 200
    assert "ignored" in response.headers["X-Instructions-Ignored"]


def test_nulls_mean_not_given(api):
    response = speech(api, response_format=None, speed=None, temperature=None, topk=None, stream=None)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/mpeg"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": "x" * 4097}, "input"),
        ({"model": "whisper-1"}, "model"),
        ({"response_format": "ogg"}, "response_format"),
        ({"speed": 5}, "speed"),
        ({"speed": 0.1}, "speed"),
        ({"temperature": -1}, "temperature"),
        ({"topk": 0}, "topk"),
        ({"voice": ""}, "voice"),
        ({"voice": {"name": "x"}}, "voice"),
        ({"voice_sample": "not base64!"}, "voice_sample"),
        ({"voice_sample": base64.b64encode(b"plain text").decode()}, "voice_sample"),
    ],
)
def test_invalid_input_is_a_400_in_openai_shape(api, fields, param):
    response = speech(api, **fields)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"]
    assert set(error) == {"message", "type", "param", "code"}


def test_missing_fields_and_bad_json_are_400(api):
    assert api.post("/v1/audio/speech", json={}).status_code == 400
    response = api.post("/v1/audio/speech", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "error" in response.json()


def test_unknown_custom_voice_is_404(api):
    response = speech(api, voice="voice_doesnotexist")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "voice"


def test_long_input_is_split_and_spoken_piece_by_piece(api):
    text = " ".join(f"Sentence number {i} is here." for i in range(6))
    response = speech(api, input=text, response_format="pcm", max_audio_length_ms=400)
    assert response.status_code == 200
    # six pieces, each capped at 5 frames of 80 ms
    assert decode(response.content, "pcm").duration == pytest.approx(6 * 0.4, abs=0.01)


def test_a_transcript_too_long_for_the_context_is_a_400(api, sample_path):
    sample = base64.b64encode(sample_path.read_bytes()).decode()
    transcript = "word " * 399  # within the 2000-character limit, but with the input it overflows 2048 positions
    response = speech(api, voice_sample=sample, voice_sample_text=transcript, input="x" * 1500, response_format="wav")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "context_too_long"
