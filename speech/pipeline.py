"""From a voice and text to audio: start a request on the engine, then collect, stream, encode or send it as
server-sent events. Engine errors become client-facing errors here, once.

Inference never runs in a `sync_to_async` thread: the engine runs it in its own worker thread and these
functions await its results.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Iterator

import numpy as np
from django.conf import settings

from . import audio, content_credentials
from .engine.prompt import Segment
from .engine.worker import ContextOverflow, EngineFailure, QueueFull, SpeechRequest, SpeechStream
from .errors import ContextTooLong, EngineBusy, GenerationFailed
from .runtime import get_engine
from .voice import Voice

SAMPLING_KEYS = ("temperature", "topk", "max_audio_length_ms", "seed")


def sampling_of(values: dict) -> dict:
    """The sampling settings among validated input (None where not given)."""
    return {key: values.get(key) for key in SAMPLING_KEYS}


def provenance() -> dict[str, str]:
    """Container metadata that says the audio is synthetic."""
    return {
        "comment": f"AI-generated speech (synthetic voice), made with {settings.CSM_MODEL} by csm-voice-api",
        "encoder": "csm-voice-api",
    }


@contextlib.contextmanager
def _engine_errors() -> Iterator[None]:
    """The one translation of the engine's exceptions into client-facing errors."""
    try:
        yield
    except QueueFull as error:
        raise EngineBusy(f"The engine is busy ({error}); retry shortly.") from None
    except ContextOverflow as error:
        raise ContextTooLong(str(error), param="input") from None
    except EngineFailure as error:
        raise GenerationFailed(str(error)) from None


async def voice_from_sample(sample: bytes, *, transcript: str, speaker: int, param: str) -> Voice:
    """Clones from an uploaded sample: decoded and checked, then encoded to Mimi codes by the engine."""
    pcm = await asyncio.to_thread(audio.load_voice_sample, sample, param=param)  # a bad sample is a 400 first
    with _engine_errors():
        codes = await get_engine().encode_voice(pcm)
    return Voice(speaker=speaker, context=[Segment(speaker, transcript, codes)], sample=sample, sample_text=transcript)


def start_speech(
    voice: Voice, text: str, *, previous: Segment | None = None, kind: str = "speech", **sampling
) -> SpeechStream:
    """Queues a request with the engine (EngineBusy when its queue is full). `previous` is the segment spoken
    just before, kept in the prompt for continuity when the engine finds room for it. `kind` (speech, clone,
    session) labels its metrics."""
    sampling = {key: value for key, value in sampling.items() if value is not None}
    request = SpeechRequest(
        text=text, speaker=voice.speaker, context=voice.context, previous=previous, kind=kind, **sampling
    )
    with _engine_errors():
        return get_engine().speak(request)


async def audio_chunks(stream: SpeechStream) -> AsyncIterator[np.ndarray]:
    """The stream's PCM chunks. Closing the iterator early (client gone) cancels the generation."""
    try:
        with _engine_errors():
            async for pcm in stream:
                yield pcm
    finally:
        stream.cancel()


async def collect(stream: SpeechStream) -> np.ndarray:
    """The whole audio of a stream, 24 kHz float32 (empty when it made none)."""
    return audio.join([pcm async for pcm in audio_chunks(stream)])


async def synthesize(voice: Voice, text: str, *, speed: float = 1.0, kind: str = "speech", **sampling) -> np.ndarray:
    """The whole clip, 24 kHz float32."""
    return audio.join([pcm async for pcm in paced_chunks(start_speech(voice, text, kind=kind, **sampling), speed)])


def _encode(pcm: np.ndarray, fmt: str) -> bytes:
    return audio.encode(pcm, fmt, metadata=provenance())


async def encode(pcm: np.ndarray, fmt: str) -> bytes:
    """One file of `fmt` with the provenance metadata, encoded off the event loop."""
    return await asyncio.to_thread(_encode, pcm, fmt)


async def encode_signed(
    pcm: np.ndarray, fmt: str, *, claims: content_credentials.Claims, sidecar: bool = False
) -> content_credentials.Signed:
    """One file of `fmt` with the provenance metadata and signed Content Credentials (embedded in wav, mp3 and
    flac; for the other formats a sidecar manifest when `sidecar`), encoded and signed off the event loop."""

    def encode_and_sign() -> content_credentials.Signed:
        return content_credentials.sign(_encode(pcm, fmt), fmt, claims, sidecar=sidecar)

    return await asyncio.to_thread(encode_and_sign)


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


async def paced_chunks(stream: SpeechStream, speed: float = 1.0) -> AsyncIterator[np.ndarray]:
    """The stream's PCM chunks as they are generated; at another speed, the whole audio in one chunk once it is
    generated and stretched (the tempo filter needs all of it)."""
    if speed == 1.0:
        async for pcm in audio_chunks(stream):
            yield pcm
        return
    pcm = await collect(stream)
    yield await asyncio.to_thread(audio.change_speed, pcm, speed)


async def encoded_stream(stream: SpeechStream, fmt: str, *, speed: float = 1.0) -> AsyncIterator[bytes]:
    """Encodes audio as it is generated. Closing the iterator (client gone) cancels the generation."""
    encoder = audio.StreamEncoder(fmt, metadata=provenance())
    try:
        async for pcm in paced_chunks(stream, speed):
            data = encoder.write(pcm)
            if data:
                yield data
    except BaseException:
        encoder.close()  # releases the codec; the partial tail is not sent
        raise
    yield encoder.close()


async def sse_events(stream: SpeechStream, fmt: str, *, input_tokens: int, speed: float = 1.0) -> AsyncIterator[str]:
    """`speech.audio.delta` events with base64 audio as it is generated, then `speech.audio.done` with usage."""
    async for data in encoded_stream(stream, fmt, speed=speed):
        if data:
            yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(data).decode()})
    usage = {"input_tokens": input_tokens, "output_tokens": stream.frames, "total_tokens": input_tokens + stream.frames}
    yield _sse({"type": "speech.audio.done", "usage": usage})


def _sse(event: dict) -> str:
    return f"data: {json.dumps(event)}\n\n"
