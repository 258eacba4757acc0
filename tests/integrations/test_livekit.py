"""LiveKit Agents' OpenAI TTS plugin against the live server: it streams as server-sent events for every model
but tts-1/tts-1-hd (stream_format "audio"), picks its parser by the response's Content-Type and decodes the
audio into 24 kHz frames."""

from __future__ import annotations

import asyncio

import pytest

from tests.integrations.conftest import LONG_TEXT, assert_idle, assert_plausible_length, require

lk_openai = require("livekit.plugins.openai")
agents = require("livekit.agents")

TEXT = "Hello from a LiveKit agent."


def make_tts(base_url: str, **options) -> lk_openai.TTS:
    return lk_openai.TTS(base_url=base_url, api_key="unused-locally", **options)


async def synthesize(tts: lk_openai.TTS, text: str) -> list:
    """Every audio frame the plugin yields for `text` (no retries: a failure surfaces at once)."""
    frames = []
    options = agents.APIConnectOptions(max_retry=0)
    try:
        async with tts.synthesize(text, conn_options=options) as stream:
            async for event in stream:
                frames.append(event.frame)
    finally:
        await tts.aclose()
    return frames


def assert_audio(frames: list, text: str) -> None:
    assert frames, "the plugin yielded no audio"
    assert {(frame.sample_rate, frame.num_channels) for frame in frames} == {(24_000, 1)}
    assert_plausible_length(sum(frame.samples_per_channel for frame in frames) / 24_000, text)


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
def test_sse_stream_of_every_format_decodes_at_24_khz(base_url, fmt):
    frames = asyncio.run(
        synthesize(make_tts(base_url, model="gpt-4o-mini-tts", voice="alloy", response_format=fmt), TEXT)
    )
    assert_audio(frames, TEXT)


@pytest.mark.parametrize("model", ["tts-1", "tts-1-hd"])
def test_audio_stream_of_tts_1_decodes_at_24_khz(base_url, model):
    assert_audio(asyncio.run(synthesize(make_tts(base_url, model=model, voice="echo"), TEXT)), TEXT)


def test_saved_voice_by_name(base_url, saved_voice):
    tts = make_tts(base_url, model="gpt-4o-mini-tts", voice=saved_voice["name"])
    assert_audio(asyncio.run(synthesize(tts, TEXT)), TEXT)


def test_unknown_voice_is_a_status_error(base_url):
    with pytest.raises(agents.APIStatusError) as error:
        asyncio.run(synthesize(make_tts(base_url, model="gpt-4o-mini-tts", voice="voice_nope"), TEXT))
    assert error.value.status_code == 404


@pytest.mark.parametrize("model", ["gpt-4o-mini-tts", "tts-1"])
def test_speed_is_applied_while_streaming(base_url, model):
    """The plugin always streams and always sends `speed`."""
    frames = asyncio.run(synthesize(make_tts(base_url, model=model, voice="alloy", speed=1.5), TEXT))
    assert_audio(frames, TEXT)


def test_closing_the_stream_early_stops_the_generation(base_url, server):
    async def first_frame_then_close() -> None:
        tts = make_tts(base_url, model="gpt-4o-mini-tts", voice="alloy", response_format="pcm")
        try:
            async with tts.synthesize(LONG_TEXT, conn_options=agents.APIConnectOptions(max_retry=0)) as stream:
                event = await anext(stream)
                assert event.frame.sample_rate == 24_000
        finally:
            await tts.aclose()

    asyncio.run(first_frame_then_close())
    assert_idle(server)
