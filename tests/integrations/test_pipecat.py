"""Pipecat's OpenAITTSService against the live server: it asks for raw `pcm` at 24 kHz and accepts only OpenAI's
13 voice names, so a cloned voice is reached through the built-in name an operator mapped to it."""

from __future__ import annotations

import asyncio

import pytest

from tests.integrations.conftest import LONG_TEXT, assert_idle, assert_plausible_length, require

require("pipecat.services.openai.tts")
from pipecat.frames.frames import ErrorFrame, InterruptionFrame, TTSAudioRawFrame, TTSSpeakFrame  # noqa: E402
from pipecat.pipeline.worker import PipelineParams  # noqa: E402
from pipecat.services.openai.tts import OpenAITTSService  # noqa: E402
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402

TEXT = "Hello from a Pipecat bot."


def make_tts(base_url: str, voice: str = "alloy") -> OpenAITTSService:
    return OpenAITTSService(
        base_url=base_url, api_key="unused-locally", settings=OpenAITTSService.Settings(model="tts-1", voice=voice)
    )


def run_pipeline(tts: OpenAITTSService, *frames) -> list:
    """The frames the service pushes downstream in a pipeline whose output runs at 24 kHz."""
    params = PipelineParams(audio_out_sample_rate=24_000)
    down, _ = asyncio.run(run_test(tts, frames_to_send=list(frames), pipeline_params=params, start_timeout=30))
    return down


def assert_audio(frames: list, text: str) -> None:
    assert not [frame for frame in frames if isinstance(frame, ErrorFrame)]
    audio = [frame for frame in frames if isinstance(frame, TTSAudioRawFrame)]
    assert audio, "the service yielded no audio"
    assert {(frame.sample_rate, frame.num_channels) for frame in audio} == {(24_000, 1)}
    assert_plausible_length(sum(len(frame.audio) for frame in audio) / 2 / 24_000, text)


def test_builtin_voice_speaks_pcm_at_24_khz(base_url):
    assert_audio(run_pipeline(make_tts(base_url), TTSSpeakFrame(TEXT)), TEXT)


@pytest.mark.django_db(transaction=True)
def test_cloned_voice_mapped_to_a_builtin_name(base_url, saved_voice):
    """What an operator does in the admin: map the saved voice to `sage`. Its codes are marked as another
    model's, so the server re-encodes them when a request resolves to it: the proof `sage` reached this voice."""
    from voices.models import Voice

    Voice.objects.filter(pk=saved_voice["id"]).update(builtin_name="sage", codes_model="another-model")
    assert_audio(run_pipeline(make_tts(base_url, voice="sage"), TTSSpeakFrame(TEXT)), TEXT)
    assert Voice.objects.get(pk=saved_voice["id"]).codes_model != "another-model"


def test_interruption_stops_the_generation(base_url, server):
    frames = run_pipeline(make_tts(base_url), TTSSpeakFrame(LONG_TEXT), SleepFrame(sleep=1.0), InterruptionFrame())
    assert not [frame for frame in frames if isinstance(frame, ErrorFrame)]
    assert_idle(server)
