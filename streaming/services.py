"""Streaming sessions: create them, feed them text, speak their segments with the voice carried across.

A session stores its voice's Mimi codes and, after each segment, that segment's text and codes, which
are the context of the next segment: the voice and prosody carry from one segment to the next, across
requests, connections and server processes. Database work runs through `database_sync_to_async`;
inference never does (the engine runs it in its own thread).
"""

from __future__ import annotations

import asyncio
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
from synthesis import audio
from synthesis import services as speech
from synthesis.engine.prompt import Segment
from synthesis.engine.worker import FRAME_MS, default_max_ms
from synthesis.errors import NotFound
from synthesis.runtime import get_engine
from voices.selectors import voice_for_speech

from .models import StreamingSession
from .segmentation import segment_text

DEFAULT_SPEAKER = 999
PROMPT_TOKENS_PER_SEGMENT = 8  # <bos>[speaker] ... <eos> and the audio markers, with room to spare


class SessionNotFound(NotFound):
    code = "session_not_found"


async def create_session(
    *,
    sample: bytes | None = None,
    voice_id: str | None = None,
    context_text: str = "",
    speaker_id: int | None = None,
    temperature: float = 0.6,
    topk: int = 20,
    output_format: str = "wav",
    max_audio_length_ms: int | None = None,
    owner: ApiKey | None = None,
) -> StreamingSession:
    """A session of `owner` (None without a key), speaking with an uploaded sample (encoded once, here) or
    a saved voice's stored codes."""
    if sample is not None:
        speaker = DEFAULT_SPEAKER if speaker_id is None else speaker_id
        voice = await speech.voice_from_sample(sample, transcript=context_text, speaker=speaker, param="audio_file")
    else:
        speaker = DEFAULT_SPEAKER if speaker_id is None else speaker_id
        voice = await voice_for_speech(owner=owner, voice=voice_id or "", speaker=speaker, param="voice_id")
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
        result = segment_text(session.text_buffer + text_chunk, is_final=is_final)
        session.text_buffer = result.rest
        session.expires_at = _expiry()
        session.save(update_fields=["text_buffer", "expires_at"])
    return session, result.segments


afeed_text = database_sync_to_async(feed_text)


@database_sync_to_async
def discard_text(session_id: str | uuid.UUID) -> None:
    """Drops the session's buffered text (a cancel)."""
    StreamingSession.objects.filter(pk=session_id).update(text_buffer="")


async def speak_segment(session: StreamingSession, text: str) -> AsyncIterator[np.ndarray]:
    """PCM chunks of one segment as they are generated, spoken with the voice and the previous segment.

    Once the segment is complete it becomes the session's previous segment (in `session` and in the
    database). Closing the iterator early cancels the generation and leaves the previous segment as it was.
    """
    stream = speech.start_speech(
        session_voice(session, text),
        text,
        temperature=session.temperature,
        topk=session.topk,
        max_audio_length_ms=session.max_audio_length_ms,
    )
    async for pcm in speech.audio_chunks(stream):
        yield pcm
    if stream.last_segment is not None:
        await _remember(session, stream.last_segment)


async def synthesize_segments(session: StreamingSession, segments: list[str]) -> np.ndarray:
    """The audio of the segments, one after the other (24 kHz float32; empty for no segments)."""
    chunks = [pcm for text in segments async for pcm in speak_segment(session, text)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def session_voice(session: StreamingSession, text: str) -> speech.Voice:
    """The session's voice context, followed by its previous segment when the prompt has room for it."""
    context = []
    if session.voice_codes is not None:
        context.append(Segment(session.speaker_id, session.voice_sample_text, _tensor(session.voice_codes)))
    if session.previous_codes is not None:
        previous = Segment(session.speaker_id, session.previous_text, _tensor(session.previous_codes))
        if _fits([*context, previous], text, session.max_audio_length_ms):
            context.append(previous)
    return speech.Voice(speaker=session.speaker_id, context=context)


def _fits(context: list[Segment], text: str, max_audio_length_ms: int | None) -> bool:
    """Whether the context, the text and the audio to generate fit in the model's positions.

    Text is counted as one token per UTF-8 byte, an upper bound for CSM's tokenizer. Without this the
    engine would cut the new segment's audio short to make room for the previous one.
    """
    wanted = (max_audio_length_ms or default_max_ms(text)) // FRAME_MS
    texts = [segment.text for segment in context] + [text]
    tokens = sum(len(piece.encode()) + PROMPT_TOKENS_PER_SEGMENT for piece in texts)
    frames = sum(segment.frames for segment in context)
    return tokens + frames + wanted <= get_engine().generator.max_positions


def _tensor(codes: list[list[int]]) -> torch.Tensor:
    return torch.tensor(codes, dtype=torch.long)


async def _remember(session: StreamingSession, segment: Segment) -> None:
    session.previous_text = segment.text
    session.previous_codes = segment.codes.tolist() if segment.codes is not None else None
    await database_sync_to_async(StreamingSession.objects.filter(pk=session.pk).update)(
        previous_text=session.previous_text, previous_codes=session.previous_codes
    )


async def encode_file(pcm: np.ndarray, fmt: str) -> bytes:
    """One self-contained file of `fmt`, never empty bytes (Daphne drops empty WebSocket messages).

    No audio is a WAV with no samples; in the other formats, whose files without samples are empty or do not
    decode (mp3), it is one silent sample (a decoder may add a frame's padding).
    """
    if not pcm.size and fmt != "wav":
        pcm = np.zeros(1, dtype=np.float32)
    return await asyncio.to_thread(audio.encode, pcm, fmt, metadata=speech.provenance())
