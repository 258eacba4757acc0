"""The OpenAI Agents SDK's voice pipeline against the live server: its OpenAITTSModel asks for `pcm` with
`instructions` (CSM ignores them) and speaks with a saved voice given as `{"id": ...}`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import numpy as np
import openai
import pytest

from tests.integrations.conftest import LONG_TEXT, assert_idle, assert_plausible_length, require, seconds_of_pcm

voice = require("agents.voice")

SENTENCES = ["Hello from an agent. ", "The weather is fine today."]


def client(base_url: str) -> openai.AsyncOpenAI:
    """A client per test: the SDK's default one is shared by the process and bound to the first event loop."""
    return openai.AsyncOpenAI(base_url=base_url, api_key="unused-locally", max_retries=0)


def tts_model(base_url: str) -> voice.OpenAITTSModel:
    return voice.OpenAITTSModel("gpt-4o-mini-tts", client(base_url))


async def pcm_of(model: voice.OpenAITTSModel, text: str, settings: voice.TTSModelSettings) -> bytes:
    return b"".join([chunk async for chunk in model.run(text, settings)])


def test_tts_model_speaks_a_saved_voice_by_id(base_url, saved_voice):
    settings = voice.TTSModelSettings(voice={"id": saved_voice["id"]}, instructions="Speak calmly.")
    pcm = asyncio.run(pcm_of(tts_model(base_url), SENTENCES[0], settings))
    assert len(pcm) % 2 == 0
    assert_plausible_length(seconds_of_pcm(pcm), SENTENCES[0])


def test_tts_model_unknown_voice_id_is_not_found(base_url):
    settings = voice.TTSModelSettings(voice={"id": "voice_nope"})
    with pytest.raises(openai.NotFoundError):
        asyncio.run(pcm_of(tts_model(base_url), "Hi.", settings))


class SilentTranscriber(voice.STTModel):
    """Stands in for speech-to-text: the pipeline under test is the text-to-speech half."""

    model_name = "test-transcriber"

    async def transcribe(self, *args, **kwargs) -> str:
        return "What is the weather like?"

    async def create_session(self, *args, **kwargs):
        raise NotImplementedError


class ScriptedWorkflow(voice.VoiceWorkflowBase):
    """An agent whose answer arrives in pieces, as an LLM's would."""

    def __init__(self, pieces: list[str]) -> None:
        self.pieces = pieces

    async def run(self, transcription: str) -> AsyncIterator[str]:
        for piece in self.pieces:
            yield piece


def pipeline(base_url: str, voice_id: str, pieces: list[str]) -> voice.VoicePipeline:
    config = voice.VoicePipelineConfig(
        model_provider=voice.OpenAIVoiceModelProvider(openai_client=client(base_url)),
        tts_settings=voice.TTSModelSettings(voice={"id": voice_id}),
        tracing_disabled=True,
    )
    return voice.VoicePipeline(
        workflow=ScriptedWorkflow(pieces), stt_model=SilentTranscriber(), tts_model="gpt-4o-mini-tts", config=config
    )


def test_voice_pipeline_turn_yields_24_khz_int16_audio_and_ends(base_url, saved_voice):
    async def turn() -> list:
        result = await pipeline(base_url, saved_voice["id"], SENTENCES).run(voice.AudioInput(buffer=np.zeros(2400)))
        return [event async for event in result.stream()]

    events = asyncio.run(turn())
    audio = [event.data for event in events if event.type == "voice_stream_event_audio"]
    lifecycle = [event.event for event in events if event.type == "voice_stream_event_lifecycle"]
    assert not [event for event in events if event.type == "voice_stream_event_error"]
    assert lifecycle == ["turn_started", "turn_ended", "session_ended"]
    assert audio and {chunk.dtype for chunk in audio} == {np.dtype(np.int16)}
    samples = sum(len(chunk) for chunk in audio)
    assert_plausible_length(samples / 24_000, "".join(SENTENCES))


def test_leaving_a_turn_early_stops_the_generation(base_url, server, saved_voice):
    async def first_audio_then_leave() -> None:
        result = await pipeline(base_url, saved_voice["id"], [LONG_TEXT]).run(voice.AudioInput(buffer=np.zeros(2400)))
        async with contextlib.aclosing(result.stream()) as events:
            async for event in events:
                if event.type == "voice_stream_event_audio":
                    break

    asyncio.run(first_audio_then_leave())
    assert_idle(server)
