"""Streaming sessions: create them, feed them text, speak their segments with the voice carried across.

A session stores its voice's Mimi codes and, after each segment, that segment's text and codes, which
are the context of the next segment: the voice and prosody carry from one segment to the next, across
requests, connections and server processes. Database work runs through `database_sync_to_async`;
inference never does (the engine runs it in its own thread).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import numpy as np
import torch
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey
from accounts.selectors import owned_by
from speech import audio, metrics, pipeline
from speech.engine.prompt import Segment
from speech.engine.sampling import DEFAULT_TEMPERATURE, DEFAULT_TOPK, child_seed
from speech.engine.text import segment_text
from speech.errors import NotFound, SessionTextFull
from speech.voice import SAMPLE_SPEAKER, Voice
from voices.services import resolve_voice

from .models import StreamingSession

logger = logging.getLogger(__name__)


class SessionNotFound(NotFound):
    code = "session_not_found"


async def create_session(
    *,
    sample: bytes | None = None,
    voice_id: str | None = None,
    context_text: str = "",
    speaker_id: int = SAMPLE_SPEAKER,
    temperature: float = DEFAULT_TEMPERATURE,
    topk: int = DEFAULT_TOPK,
    seed: int | None = None,
    output_format: str = "wav",
    max_audio_length_ms: int | None = None,
    owner: ApiKey | None = None,
) -> StreamingSession:
    """A session of `owner` (None without a key), speaking with an uploaded sample (encoded once, here) or
    a saved voice's stored codes."""
    voice = await resolve_voice(
        owner=owner,
        voice=voice_id,
        sample=sample,
        transcript=context_text,
        speaker=speaker_id,
    )
    context = voice.context[0] if voice.context else None
    session = StreamingSession(
        id=uuid.uuid4(),
        owner=owner,
        voice_id=voice.saved_voice_id,
        voice_sample_text=context.text if context else "",
        voice_codes=context.codes.tolist() if context is not None and context.codes is not None else None,
        speaker_id=voice.speaker,
        temperature=temperature,
        topk=topk,
        seed=seed,
        output_format=output_format,
        max_audio_length_ms=max_audio_length_ms,
        expires_at=_expiry(),
    )
    await database_sync_to_async(_save_new)(session, sample)
    return session


def _save_new(session: StreamingSession, sample: bytes | None) -> None:
    if sample:
        session.voice_sample.save(f"{session.id.hex}.sample", ContentFile(sample), save=False)
    session.save(force_insert=True)


def _expiry():
    return timezone.now() + timedelta(seconds=settings.CSM_SESSION_TTL_SECONDS)


def get_session(session_id: str | uuid.UUID, *, owner: ApiKey | None) -> StreamingSession:
    """The owner's live session; SessionNotFound for unknown ids (malformed ones included), other owners'
    sessions and expired sessions."""
    return _live(StreamingSession.objects.filter(owned_by(owner)), session_id)


aget_session = database_sync_to_async(get_session)


def _live(queryset, session_id: str | uuid.UUID) -> StreamingSession:
    try:
        pk = uuid.UUID(str(session_id))
    except ValueError:
        raise SessionNotFound(f"Streaming session '{session_id}' not found.", param="session_id") from None
    session = queryset.filter(pk=pk).first()
    if session is None:
        raise SessionNotFound(f"Streaming session '{session_id}' not found.", param="session_id")
    if session.expired:
        raise SessionNotFound(f"Streaming session '{session_id}' has expired.", param="session_id")
    return session


def feed_text(
    session_id: str | uuid.UUID, text_chunk: str, *, is_final: bool, owner: ApiKey | None
) -> tuple[StreamingSession, list[str]]:
    """Adds a chunk to the owner's session's buffered text; returns the session and the segments now ready.

    Each use extends the session's life by CSM_SESSION_TTL_SECONDS.
    """
    with transaction.atomic():
        session = _live(StreamingSession.objects.select_for_update().filter(owned_by(owner)), session_id)
        check_text_room(waiting=len(session.text_buffer), chunk=text_chunk)
        result = segment_text(session.text_buffer + text_chunk, is_final=is_final)
        session.text_buffer = result.rest
        session.expires_at = _expiry()
        session.save(update_fields=["text_buffer", "expires_at"])
    if is_final:
        metrics.UTTERANCES.inc()
    return session, result.segments


afeed_text = database_sync_to_async(feed_text)


def check_text_room(*, waiting: int, chunk: str) -> None:
    """SessionTextFull when `waiting` characters not yet spoken plus `chunk` pass CSM_MAX_SESSION_TEXT_CHARS."""
    limit = settings.CSM_MAX_SESSION_TEXT_CHARS
    if waiting + len(chunk) > limit:
        raise SessionTextFull(
            f"The session has {waiting:,} characters waiting to be spoken; with this chunk of {len(chunk):,} it "
            f"would pass the limit of {limit:,}. Send more once the audio has caught up.",
            param="text_chunk",
        )


@database_sync_to_async
def discard_text(session_id: str | uuid.UUID) -> None:
    """Drops the session's buffered text (a cancel)."""
    StreamingSession.objects.filter(pk=session_id).update(text_buffer="")


async def speak_segment(session: StreamingSession, text: str) -> AsyncIterator[np.ndarray]:
    """PCM chunks of one segment as they are generated, spoken with the voice and the previous segment.

    Once the segment is complete it becomes the session's previous segment (in `session` and in the
    database). Closing the iterator early cancels the generation and leaves the previous segment as it was.
    A seeded session speaks segment n with `child_seed(seed, n)` (n counts the segments spoken to the end), so
    the same texts fed to a session with the same seed and voice speak the same audio, segment by segment.
    """
    stream = pipeline.start_speech(
        session_voice(session),
        text,
        previous=previous_segment(session),
        kind="session",
        temperature=session.temperature,
        topk=session.topk,
        max_audio_length_ms=session.max_audio_length_ms,
        seed=None if session.seed is None else child_seed(session.seed, session.segments_spoken),
    )
    async for pcm in pipeline.audio_chunks(stream):
        yield pcm
    if stream.last_segment is not None:
        await _remember(session, stream.last_segment)


async def synthesize_segments(session: StreamingSession, segments: list[str]) -> np.ndarray:
    """The audio of the segments, one after the other (24 kHz float32; empty for no segments), at most
    CSM_MAX_AUDIO_SECONDS of it: the segments after the cap are not spoken."""
    cap = settings.CSM_MAX_AUDIO_SECONDS * audio.SAMPLE_RATE
    chunks: list[np.ndarray] = []
    made = 0
    for done, text in enumerate(segments):
        if made >= cap:
            logger.info("stream-text reached the audio cap; %d segment(s) not spoken.", len(segments) - done)
            metrics.count_audio_cap()
            break
        async for pcm in speak_segment(session, text):
            chunks.append(pcm)
            made += len(pcm)
    return audio.join(chunks)[:cap]


def session_voice(session: StreamingSession) -> Voice:
    """The session's voice: its sample's codes and transcript as context (none for uncloned speech)."""
    context = []
    if session.voice_codes is not None:
        context.append(Segment(session.speaker_id, session.voice_sample_text, _tensor(session.voice_codes)))
    return Voice(speaker=session.speaker_id, context=context)


def previous_segment(session: StreamingSession) -> Segment | None:
    """The segment the session spoke last, which the engine keeps in the prompt when it fits."""
    if session.previous_codes is None:
        return None
    return Segment(session.speaker_id, session.previous_text, _tensor(session.previous_codes))


def _tensor(codes: list[list[int]]) -> torch.Tensor:
    return torch.tensor(codes, dtype=torch.long)


async def _remember(session: StreamingSession, segment: Segment) -> None:
    session.previous_text = segment.text
    session.previous_codes = segment.codes.tolist() if segment.codes is not None else None
    session.segments_spoken += 1
    await database_sync_to_async(StreamingSession.objects.filter(pk=session.pk).update)(
        previous_text=session.previous_text,
        previous_codes=session.previous_codes,
        segments_spoken=session.segments_spoken,
    )


async def stream_text(session_id: str | uuid.UUID, text_chunk: str, *, is_final: bool, owner: ApiKey | None) -> bytes:
    """Adds a chunk to the owner's session; a WAV of the segments it completed (no samples when none)."""
    session, segments = await afeed_text(session_id, text_chunk, is_final=is_final, owner=owner)
    return await encode_file(await synthesize_segments(session, segments), "wav")


async def encode_file(pcm: np.ndarray, fmt: str) -> bytes:
    """One self-contained file of `fmt`, never empty bytes (Daphne drops empty WebSocket messages).

    No audio is a WAV with no samples; in the other formats, whose files without samples are empty or do not
    decode (mp3), it is one silent sample (a decoder may add a frame's padding).
    """
    if not pcm.size and fmt != "wav":
        pcm = np.zeros(1, dtype=np.float32)
    return await pipeline.encode(pcm, fmt)


def purge_expired_sessions() -> int:
    """Deletes the sessions past their expiry, rows and uploaded samples; returns how many.
    Used by the purge_sessions command and the server's housekeeping."""
    deleted = 0
    for session in StreamingSession.objects.filter(expires_at__lte=timezone.now()).iterator():
        session.delete()  # one at a time, so memory stays bounded; its post_delete receiver removes the sample
        deleted += 1
    return deleted
