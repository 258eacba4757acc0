"""Speech services: resolve the voice, run the pipeline, and store clips."""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import streams
from accounts.models import ApiKey
from speech import audio, content_credentials, pipeline
from speech.content_credentials import Claims, Signed, Verification
from speech.errors import InvalidAudio
from speech.storage import saved_together
from speech.voice import DEFAULT_SPEAKER, Voice
from voices.models import Voice as SavedVoice
from voices.models import VoiceConsent
from voices.services import resolve_voice

from .models import Clip

SSE_CONTENT_TYPE = "text/event-stream"


@dataclass(frozen=True)
class Speech:
    """A response body: the whole file (bytes), or an iterator of its pieces as they are generated."""

    body: bytes | AsyncIterator
    content_type: str

    @property
    def streamed(self) -> bool:
        return not isinstance(self.body, bytes)


def decode_base64_sample(value: str, *, param: str = "voice_sample") -> bytes:
    """Base64 as `base64` prints it: wrapped lines (whitespace is dropped) and the padding may be left out."""
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    value = "".join(value.split())
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAudio("voice_sample is not valid base64.", param=param) from None


async def create_speech(
    *,
    owner: ApiKey | None,
    text: str,
    voice: str,
    voice_sample: str | None = None,
    voice_sample_text: str = "",
    speaker_id: int = DEFAULT_SPEAKER,
    response_format: str = "mp3",
    speed: float = 1.0,
    stream: bool = False,
    stream_format: str | None = None,
    sampling: dict,
) -> Speech:
    """OpenAI's speech: the whole file, or with `stream` (or an explicit `stream_format`) the audio as it is
    generated, as raw audio or as server-sent events. A `speed` other than 1.0 holds a stream's audio back until
    the whole of it is generated and stretched.

    `pcm` is always sent as it is generated, as OpenAI sends it: the bytes are the same as a whole file's (raw
    samples, no header), and voice agents (Pipecat, the Agents SDK) ask for it and play it as it arrives."""
    streaming = stream or stream_format in ("audio", "sse") or response_format == "pcm"
    spoken = await resolve_voice(
        owner=owner,
        voice=voice,
        sample=decode_base64_sample(voice_sample) if voice_sample else None,
        transcript=voice_sample_text,
        speaker=speaker_id,
        voice_param="voice",
        sample_param="voice_sample",
    )
    if stream_format == "sse":
        return await _counted_stream(
            owner,
            lambda: pipeline.sse_events(
                pipeline.start_speech(spoken, text, **sampling), response_format, input_tokens=len(text), speed=speed
            ),
            SSE_CONTENT_TYPE,
        )
    if streaming:
        return await stream_speech(spoken, text, fmt=response_format, sampling=sampling, owner=owner, speed=speed)
    pcm = await pipeline.synthesize(spoken, text, speed=speed, **sampling)
    claims = _claims(spoken, request_id=str(uuid.uuid4()))
    signed = await pipeline.encode_signed(pcm, response_format, claims=claims)
    return Speech(signed.data, audio.CONTENT_TYPES[response_format])


def _claims(voice: Voice, *, clip_id: str | None = None, request_id: str | None = None) -> Claims:
    """What a file's Content Credentials say about it (the voice's ids go in only where the operator asks)."""
    return Claims(clip_id=clip_id, request_id=request_id, voice_id=voice.saved_voice_id, consent_id=voice.consent_id)


async def stream_speech(
    voice: Voice,
    text: str,
    *,
    fmt: str,
    sampling: dict,
    owner: ApiKey | None,
    speed: float = 1.0,
    kind: str = "speech",
) -> Speech:
    """The encoded audio as it is generated; an error before the first audio is raised here."""
    return await _counted_stream(
        owner,
        lambda: pipeline.encoded_stream(pipeline.start_speech(voice, text, kind=kind, **sampling), fmt, speed=speed),
        audio.CONTENT_TYPES[fmt],
    )


async def _counted_stream(owner: ApiKey | None, make_body: Callable[[], AsyncIterator], content_type: str) -> Speech:
    """A streamed body, counted as one of `owner`'s open streams from before its generation starts until it
    ends; TooManyStreams (429) when the key has the most it may have open."""
    streams.open_stream(owner)
    try:
        body = await pipeline.started(make_body())
    except BaseException:
        streams.close_stream(owner)
        raise
    return Speech(streams.CountedBody(owner, body), content_type)


async def stream_voice_clone(
    *,
    owner: ApiKey | None,
    text: str,
    sample: bytes | None,
    voice_id: str | None,
    context_text: str,
    speaker_id: int,
    output_format: str,
    sampling: dict,
) -> Speech:
    """Speaks with an uploaded sample or a saved voice; the audio as it is generated."""
    voice = await resolve_voice(owner=owner, voice=voice_id, sample=sample, transcript=context_text, speaker=speaker_id)
    return await stream_speech(voice, text, fmt=output_format, sampling=sampling, owner=owner, kind="clone")


async def create_clip(
    *,
    owner: ApiKey | None,
    text: str,
    sample: bytes | None,
    voice_id: str | None,
    context_text: str,
    speaker_id: int,
    output_format: str,
    sampling: dict,
) -> Clip:
    """Speaks with an uploaded sample or a saved voice and stores the clip."""
    voice = await resolve_voice(owner=owner, voice=voice_id, sample=sample, transcript=context_text, speaker=speaker_id)
    parameters = {**sampling, "speaker_id": voice.speaker}  # a saved voice speaks as its own speaker
    return await synthesize_clip(voice, text, output_format=output_format, parameters=parameters, owner=owner)


async def synthesize_clip(
    voice: Voice, text: str, *, output_format: str, parameters: dict, owner: ApiKey | None = None
) -> Clip:
    """Generates, encodes, signs and stores a clip with what was asked, owned by `owner` (None without a key).
    A format that cannot embed its Content Credentials gets them as a sidecar manifest, stored with it."""
    pcm = await pipeline.synthesize(voice, text, kind="clone", **pipeline.sampling_of(parameters))
    clip_id = uuid.uuid4()
    signed = await pipeline.encode_signed(pcm, output_format, claims=_claims(voice, clip_id=str(clip_id)), sidecar=True)
    return await sync_to_async(_save_clip)(clip_id, voice, text, output_format, parameters, signed, len(pcm), owner)


def _save_clip(
    clip_id: uuid.UUID,
    voice: Voice,
    text: str,
    output_format: str,
    parameters: dict,
    signed: Signed,
    samples: int,
    owner: ApiKey | None,
) -> Clip:
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
    try:
        return _store_clip(clip, sample=voice.sample, signed=signed)
    except IntegrityError:  # the voice went between the check and the commit (SQLite locks nothing): once more
        return _store_clip(clip, sample=voice.sample, signed=signed)


def _store_clip(clip: Clip, *, sample: bytes | None, signed: Signed) -> Clip:
    """Saves the clip's row and files together: no file stays without its row."""
    with saved_together(clip.voice_sample, clip.file, clip.manifest), transaction.atomic():
        _unlink_deleted_voice(clip)
        if sample:
            clip.voice_sample.save(f"{clip.id.hex}.sample", ContentFile(sample), save=False)
        clip.file.save(f"{clip.id.hex}.{clip.output_format}", ContentFile(signed.data), save=False)
        if signed.sidecar is not None:
            clip.manifest.save(f"{clip.id.hex}.{clip.output_format}.c2pa", ContentFile(signed.sidecar), save=False)
        clip.save(force_insert=True)
    return clip


def _unlink_deleted_voice(clip: Clip) -> None:
    """A voice (or its consent) deleted while the clip was generated: the clip is kept without it, as if it
    had been deleted just after (their foreign keys SET_NULL). The rows that remain are locked until commit."""
    if clip.voice_id is not None and not SavedVoice.objects.select_for_update().filter(pk=clip.voice_id).exists():
        clip.voice_id = None
    if clip.consent_id is not None and not (
        VoiceConsent.objects.select_for_update().filter(pk=clip.consent_id).exists()
    ):
        clip.consent_id = None


async def verify_audio(*, data: bytes, manifest: bytes | None = None) -> Verification:
    """Reads and checks a file's Content Credentials (embedded, or the sidecar `manifest`), off the event loop."""
    return await asyncio.to_thread(content_credentials.verify, data, manifest=manifest)


def purge_expired_clips(*, days: int | None = None) -> int:
    """Deletes the clips older than `days` (CSM_CLIP_RETENTION_DAYS by default), rows and files; returns how many.
    Used by the purge_clips command and the server's housekeeping."""
    days = settings.CSM_CLIP_RETENTION_DAYS if days is None else days
    deleted = 0
    for clip in Clip.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).iterator():
        clip.delete()  # one at a time, so memory stays bounded; its post_delete receiver removes the files
        deleted += 1
    return deleted
