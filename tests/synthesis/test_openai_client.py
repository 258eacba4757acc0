"""End to end: the official `openai` client against a real Daphne process."""

import base64

import openai
import pytest

from tests.audio_checks import assert_format, decode
from tests.conftest import SAMPLE_TEXT


@pytest.fixture
def client(server):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused-locally", max_retries=0)


def test_speech_with_a_builtin_voice(client):
    response = client.audio.speech.create(
        model="tts-1", voice="alloy", input="Hello from the official client.", extra_body={"max_audio_length_ms": 640}
    )
    decoded = decode(response.content, "mp3")
    assert_format(decoded, "mp3")
    assert decoded.duration == pytest.approx(0.64, abs=0.09)


def test_speech_cloned_through_extra_body_in_every_format(client, sample_path):
    sample = base64.b64encode(sample_path.read_bytes()).decode()
    for fmt in ("wav", "flac", "opus", "aac", "pcm", "mp3"):
        response = client.audio.speech.create(
            model="csm-1b",
            voice="alloy",
            input="Cloned.",
            response_format=fmt,
            extra_body={"voice_sample": sample, "voice_sample_text": SAMPLE_TEXT, "max_audio_length_ms": 400},
        )
        decoded = decode(response.content, fmt)
        assert_format(decoded, fmt)
        assert decoded.sample_rate == 24_000
        assert decoded.duration == pytest.approx(0.4, abs=0.09)


def test_streaming_response_writes_chunks_as_they_come(client, tmp_path):
    out = tmp_path / "streamed.wav"
    with client.audio.speech.with_streaming_response.create(
        model="tts-1", voice="echo", input="Streamed.", response_format="wav", extra_body={"stream": True}
    ) as response:
        chunks = list(response.iter_bytes())
        out.write_bytes(b"".join(chunks))
    assert decode(out.read_bytes(), "wav").duration > 0


def test_errors_surface_as_openai_exceptions(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.speech.create(model="tts-1", voice="alloy", input="", response_format="wav")
    assert error.value.body["param"] == "input"
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice="voice_nope", input="Hi.")
    models = client.models.list()
    assert "gpt-4o-mini-tts" in [model.id for model in models.data]
    assert client.models.retrieve("csm-1b").id == "csm-1b"
