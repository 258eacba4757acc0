"""Issue 12, item 11: samples with NaN, infinite or absurd float values are refused with a 400 saying why, and
the schema states the real constraints."""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest

from speech.audio import load_voice_sample
from speech.errors import InvalidAudio
from tests.keys import Client


def float_wav(samples: np.ndarray, rate: int = 24_000, *, width: int = 4) -> bytes:
    """A mono IEEE-float WAV (format 3) of `width`-byte samples, written by hand: values are stored as given."""
    data = samples.astype(f"<f{width}").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * width, width, 8 * width)
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def speech_like(seconds: float = 3.0) -> np.ndarray:
    t = np.arange(int(24_000 * seconds)) / 24_000
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def spoiled(value: float, *, width: int = 4) -> bytes:
    samples = speech_like().astype(np.float64)
    samples[1000:1010] = value
    return float_wav(samples, width=width)


def test_a_clean_float_sample_is_accepted():
    assert load_voice_sample(float_wav(speech_like())).size > 0


@pytest.mark.parametrize(("value", "reason"), [(np.nan, "NaN"), (np.inf, "infinite"), (-np.inf, "infinite")])
def test_nan_and_infinite_samples_are_refused(value, reason):
    with pytest.raises(InvalidAudio, match=reason) as refused:
        load_voice_sample(spoiled(value), param="voice_sample")
    assert refused.value.param == "voice_sample"


@pytest.mark.parametrize(("value", "width"), [(1e308, 8), (3e38, 4), (100.0, 4)])
def test_absurd_levels_are_refused(value, width):
    with pytest.raises(InvalidAudio, match="sample values"):  # 1e308 overflows the decoder's float32: infinite
        load_voice_sample(spoiled(value, width=width))


def test_a_nan_sample_is_a_400_over_http(server):
    body = {
        "model": "tts-1",
        "input": "Hi.",
        "voice": "alloy",
        "voice_sample": base64.b64encode(spoiled(np.nan)).decode(),
        "response_format": "pcm",
    }
    response = Client(server).post("/v1/audio/speech", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "voice_sample" and "NaN" in error["message"]


def test_the_schema_states_the_real_constraints(server):
    schema = Client(server).get("/openapi.json").json()
    paths = schema["paths"]
    for path in ("/v1/streaming-session", "/v1/stream-text"):
        assert "401" in paths[path]["post"]["responses"], path
    limit = next(p for p in paths["/v1/audio/voice_consents"]["get"]["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)
    components = schema["components"]["schemas"]
    language = components["ConsentCreateRequest"]["properties"]["language"]
    assert "pattern" in language and "BCP 47" in language["description"]
    for name, field in [("VoiceCloneRequest", "audio_file"), ("VoiceCreateRequest", "audio_sample")]:
        assert "1-30 s" in components[name]["properties"][field]["description"], name
