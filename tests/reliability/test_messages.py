"""Issue 12, item 10: error messages that say what actually went wrong, and inputs `base64` prints accepted."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
import torch

from speech.audio import MAX_SAMPLE_BYTES, load_voice_sample
from speech.engine.prompt import Segment
from speech.engine.worker import ContextOverflow, SpeechRequest
from speech.errors import AudioTooLarge
from tests.keys import SAMPLE, Client, clone, new_key


def test_an_invalid_or_expired_signature_says_so_not_that_the_key_is_missing(auth_server):
    owner = Client(auth_server, new_key())
    response = clone(owner)
    assert response.status_code == 200, response.text
    path = response.json()["audio_url"].split("?")[0]
    anonymous = Client(auth_server)
    for signature in ("forged", response.json()["audio_url"].split("sig=")[1][:-2] + "xx"):
        refused = anonymous.get(f"{path}?sig={signature}")
        assert refused.status_code == 401
        error = refused.json()["error"]
        assert error["code"] == "invalid_signature"
        assert "invalid or has expired" in error["message"]
    assert anonymous.get(path).json()["error"]["code"] == "missing_api_key"  # no signature at all


def test_a_prompt_too_long_names_only_what_it_held(engine):
    """A voice sample without a transcript: the message must not blame a transcript."""
    no_transcript = [Segment(0, "", torch.zeros(8, 2100, dtype=torch.long))]

    async def run():
        await engine.speak(SpeechRequest(text="Hi.", context=no_transcript, max_audio_length_ms=400)).read_all()

    with pytest.raises(ContextOverflow) as overflow:
        asyncio.run(run())
    assert "transcript" not in str(overflow.value)
    assert "The voice sample and the text" in str(overflow.value)


def test_a_json_body_over_the_limit_is_413_in_plain_words(server):
    from django.conf import settings

    pad = "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = json.dumps({"model": "tts-1", "input": "Hi.", "voice": "alloy", "pad": pad})
    response = Client(server).post("/v1/audio/speech", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "request_too_large"
    # The server refuses it before reading it (config.server), in plain words that name the limit.
    assert "settings" not in error["message"] and "DATA_UPLOAD" not in error["message"]
    assert f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20:g} MiB" in error["message"]


def test_an_audio_file_just_over_the_limit_shows_enough_digits_to_see_it():
    with pytest.raises(AudioTooLarge) as too_large:
        load_voice_sample(b"\0" * (MAX_SAMPLE_BYTES + 1))
    assert f"{MAX_SAMPLE_BYTES + 1:,} bytes" in too_large.value.message
    assert f"{MAX_SAMPLE_BYTES:,} bytes" in too_large.value.message


@pytest.mark.parametrize("encode", ["wrapped", "unpadded"])
def test_base64_as_the_base64_tool_prints_it_is_accepted(server, encode):
    data = SAMPLE.read_bytes()
    data += b"\0" * ((1 - len(data)) % 3)  # a length whose base64 ends in padding (trailing bytes decode fine)
    assert base64.b64encode(data).endswith(b"=")
    text = base64.encodebytes(data).decode() if encode == "wrapped" else base64.b64encode(data).decode().rstrip("=")
    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "voice_sample": text, "response_format": "pcm"}
    response = Client(server).post("/v1/audio/speech", json={**body, "max_audio_length_ms": 160})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("field", "value"), [("temperature", True), ("speed", False), ("temperature", "nan")])
def test_booleans_and_nan_are_not_numbers(server, field, value):
    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm", field: value}
    response = Client(server).post("/v1/audio/speech", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == field
