"""The official `openai` client through the custom-voices flow against the tiny-random `server`."""

from __future__ import annotations

import openai
import pytest

from tests.audio_checks import assert_format, decode
from tests.conftest import SAMPLE_TEXT


@pytest.fixture
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused-locally", max_retries=0)


def test_consent_voice_speech_delete(client, sample_path):
    consent = client.audio.voice_consents.create(name="Alice", language="en-US", recording=sample_path)
    assert consent.id.startswith("cons_") and consent.object == "audio.voice_consent"
    assert client.audio.voice_consents.retrieve(consent.id) == consent
    assert client.audio.voice_consents.update(consent.id, name="Alice (2025)").name == "Alice (2025)"
    voice = client.audio.voices.create(
        name="Alice",
        consent=consent.id,
        audio_sample=sample_path,
        extra_body={"transcript": SAMPLE_TEXT, "speaker_id": 1},
    )
    assert voice.id.startswith("voice_") and voice.type == "audio_sample" and voice.name == "Alice"
    speech = client.audio.speech.create(
        model="gpt-4o-mini-tts",
        voice={"id": voice.id},
        input="Hello from a saved voice.",
        response_format="wav",
        extra_body={"max_audio_length_ms": 400},
    )
    decoded = decode(speech.content, "wav")
    assert_format(decoded, "wav")
    assert decoded.duration == pytest.approx(0.4, abs=0.01)
    with pytest.raises(openai.BadRequestError) as in_use:
        client.audio.voice_consents.delete(consent.id)
    assert in_use.value.code == "consent_in_use"
    deleted = client.audio.voices.delete(voice.id)
    assert (deleted.id, deleted.deleted, deleted.object) == (voice.id, True, "audio.voice.deleted")
    gone = client.audio.voice_consents.delete(consent.id)
    assert (gone.id, gone.deleted) == (consent.id, True)
    with pytest.raises(openai.NotFoundError):
        client.audio.voices.delete(voice.id)
    with pytest.raises(openai.NotFoundError):
        client.audio.speech.create(model="tts-1", voice={"id": voice.id}, input="Gone.")


def test_listing_pages_through_every_consent(client, sample_path):
    made = [client.audio.voice_consents.create(name=f"c{i}", language="en", recording=sample_path).id for i in range(5)]
    page = client.audio.voice_consents.list(limit=2)
    assert [consent.id for consent in page.data] == made[::-1][:2] and page.has_more
    assert [consent.id for consent in client.audio.voice_consents.list(limit=2)] == made[::-1]  # auto-paging


def test_bad_input_surfaces_as_openai_errors(client, sample_path):
    with pytest.raises(openai.BadRequestError) as error:
        client.audio.voice_consents.create(name="x", language="not a tag", recording=sample_path)
    assert error.value.body["param"] == "language"
    with pytest.raises(openai.NotFoundError) as missing:
        client.audio.voices.create(name="x", consent="cons_missing", audio_sample=sample_path)
    assert missing.value.body["param"] == "consent"
