"""Speech services: build engine requests from validated input, run them, store clips."""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile

from accounts.models import ApiKey

from . import audio
from .engine import worker
from .engine.prompt import Segment
from .engine.worker import QueueFull, SpeechRequest, SpeechStream
from .errors import EngineBusy, GenerationFailed, InvalidAudio, PromptTooLong
from .models import Clip
from .runtime import get_engine

BUILTIN_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
DEFAULT_SPEAKER = 0


def provenance(model_name: str | None = None) -> dict[str, str]:
    """Container metadata that says the audio is synthetic."""
    model = model_name or settings.CSM_MODEL
    return {
        "comment": f"AI-generated speech (synthetic voice), made with {model} by csm-voice-api",
        "encoder": "csm-voice-api",
    }


@dataclass
class Voice:
    """What a request speaks with: a speaker id and the context segments that carry the voice."""

    speaker: int
    context: list[Segment]
    sample: bytes | None = None
    sample_text: str = ""
    saved_voice_id: str | None = None  # a saved voice (voices.Voice) and its consent, recorded on clips
    consent_id: str | None = None


def decode_base64_sample(value: str, *, param: str = "voice_sample") -> bytes:
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAudio("voice_sample is not valid base64.", param=param) from None


async def voice_from_sample(sample: bytes, *, transcript: str, speaker: int, param: str) -> Voice:
    """Clones from an uploaded sample: decoded and checked, then encoded to Mimi codes by the engine."""
    pcm = await asyncio.to_thread(audio.load_voice_sample, sample, param=param)  # a bad sample is a 400 first
    codes = await _engine_call(get_engine().encode_voice(pcm))
    return Voice(speaker=speaker, context=[Segment(speaker, transcript, codes)], sample=sample, sample_text=transcript)


def _busy(error: QueueFull) -> EngineBusy:
    return EngineBusy(f"The engine is busy ({error}); retry shortly.")


async def _engine_call(awaitable):
    try:
        return await awaitable
    except QueueFull as error:
        raise _busy(error) from None


def start_speech(voice: Voice, text: str, **sampling) -> SpeechStream:
    """Queues a request with the engine; raises EngineBusy when its queue is full."""
    sampling = {key: value for key, value in sampling.items() if value is not None}
    request = SpeechRequest(text=text, speaker=voice.speaker, context=voice.context, **sampling)
    try:
        return get_engine().speak(request)
    except QueueFull as error:
        raise _busy(error) from None


async def synthesize(voice: Voice, text: str, *, speed: float = 1.0, **sampling) -> np.ndarray:
    """The whole clip, 24 kHz float32."""
    chunks = [pcm async for pcm in audio_chunks(start_speech(voice, text, **sampling))]
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    if speed != 1.0:
        pcm = await asyncio.to_thread(audio.change_speed, pcm, speed)
    return pcm


async def audio_chunks(stream: SpeechStream) -> AsyncIterator[np.ndarray]:
    """The stream's PCM chunks, with engine failures turned into client-facing errors. Closing the
    iterator early (client gone) cancels the generation."""
    try:
        async for pcm in stream:
            yield pcm
    except worker.PromptTooLong as error:
        raise PromptTooLong(str(error), param="input") from None
    except worker.EngineFailure as error:
        raise GenerationFailed(str(error)) from None
    finally:
        stream.cancel()


async def started(body: AsyncIterator) -> AsyncIterator:
    """Waits for a streamed body's first piece, so that an error before any audio still gets its own
    status code; returns an iterator over the whole body."""
    try:
        first = await anext(body)
    except StopAsyncIteration:
        first = None

    async def whole():
        if first is not None:
            yield first
        async for piece in body:
            yield piece

    return whole()


async def encoded_stream(stream: SpeechStream, fmt: str) -> AsyncIterator[bytes]:
    """Encodes audio as it is generated. Closing the iterator (client gone) cancels the generation."""
    encoder = audio.StreamEncoder(fmt, metadata=provenance())
    try:
        async for pcm in audio_chunks(stream):
            data = encoder.write(pcm)
            if data:
                yield data
    except BaseException:
        encoder.close()  # releases the codec; the partial tail is not sent
        raise
    yield encoder.close()


async def synthesize_clip(
    voice: Voice, text: str, *, output_format: str, parameters: dict, owner: ApiKey | None = None
) -> Clip:
    """Generates, encodes and stores a clip with what was asked, owned by `owner` (None without a key)."""
    sampling = {key: parameters[key] for key in ("temperature", "topk", "max_audio_length_ms")}
    pcm = await synthesize(voice, text, **sampling)
    data = await asyncio.to_thread(audio.encode, pcm, output_format, metadata=provenance())
    return await sync_to_async(_save_clip)(voice, text, output_format, parameters, data, len(pcm), owner)


def _save_clip(
    voice: Voice, text: str, output_format: str, parameters: dict, data: bytes, samples: int, owner: ApiKey | None
) -> Clip:
    clip_id = uuid.uuid4()
    clip = Clip(
        id=clip_id,
        text=text,
        parameters=parameters,
        output_format=output_format,
        voice_sample_text=voice.sample_text,
        duration_seconds=round(samples / audio.SAMPLE_RATE, 3),
        owner=owner,
        voice_id=voice.saved_voice_id,
        consent_id=voice.consent_id,
    )
    if voice.sample:
        clip.voice_sample.save(f"{clip_id.hex}.sample", ContentFile(voice.sample), save=False)
    clip.file.save(f"{clip_id.hex}.{output_format}", ContentFile(data), save=False)
    clip.save()
    return clip


async def sse_events(stream: SpeechStream, fmt: str, *, input_tokens: int) -> AsyncIterator[str]:
    """`speech.audio.delta` events with base64 audio as it is generated, then `speech.audio.done` with usage."""
    async for data in encoded_stream(stream, fmt):
        if data:
            yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
    usage = {"input_tokens": input_tokens, "output_tokens": stream.frames, "total_tokens": input_tokens + stream.frames}
    yield _sse({"type": "speech.audio.done", "usage": usage})


def _sse(event: dict) -> str:
    return f"data: {json.dumps(event)}\n\n"
