"""Reads for voices and consents, and the resolution of a requested voice to what the engine speaks with."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db.models import Q, QuerySet

from accounts.models import ApiKey
from accounts.selectors import owned_by
from synthesis import services as speech
from synthesis.engine.prompt import Segment
from synthesis.errors import NotFound

from .models import Voice, VoiceConsent

logger = logging.getLogger(__name__)

T = TypeVar("T", Voice, VoiceConsent)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_more: bool


def paginate(queryset: QuerySet, *, after: str | None, limit: int, param: str = "after") -> Page:
    """A page of `queryset` (newest first) after the object with id `after`; NotFound for an unknown cursor."""
    if after:
        cursor = queryset.filter(pk=after).first()
        if cursor is None:
            raise NotFound(f"No object with id '{after}' to list after.", param=param)
        queryset = queryset.filter(
            Q(created_at__lt=cursor.created_at) | Q(created_at=cursor.created_at, pk__lt=cursor.pk)
        )
    items = list(queryset.order_by("-created_at", "-pk")[: limit + 1])
    return Page(items=items[:limit], has_more=len(items) > limit)


def consents(*, owner: ApiKey | None) -> QuerySet[VoiceConsent]:
    return VoiceConsent.objects.filter(owned_by(owner))


def list_consents(*, owner: ApiKey | None, after: str | None = None, limit: int = 20) -> Page[VoiceConsent]:
    return paginate(consents(owner=owner), after=after, limit=limit)


def get_consent(*, owner: ApiKey | None, consent_id: str, param: str | None = None) -> VoiceConsent:
    """The owner's consent; NotFound for unknown ids and other owners' consents."""
    consent = consents(owner=owner).filter(pk=consent_id).first()
    if consent is None:
        raise NotFound(f"Voice consent '{consent_id}' not found.", param=param)
    return consent


def owned_voices(*, owner: ApiKey | None) -> QuerySet[Voice]:
    return Voice.objects.filter(owned_by(owner))


def usable_voices(*, owner: ApiKey | None) -> QuerySet[Voice]:
    """The owner's voices and those shared with every key."""
    return Voice.objects.filter(owned_by(owner) | Q(shared=True))


def list_voices(*, owner: ApiKey | None) -> list[Voice]:
    return list(usable_voices(owner=owner).defer("codes").order_by("-created_at", "-pk"))


def get_voice(*, owner: ApiKey | None, voice_id: str, param: str | None = None) -> Voice:
    """A voice the owner may use (its own or a shared one); NotFound otherwise."""
    voice = usable_voices(owner=owner).filter(pk=voice_id).defer("codes").first()
    if voice is None:
        raise NotFound(f"Voice '{voice_id}' not found.", param=param)
    return voice


def get_owned_voice(*, owner: ApiKey | None, voice_id: str) -> Voice:
    """One of the owner's own voices (to change or delete); NotFound otherwise, shared voices included."""
    voice = owned_voices(owner=owner).filter(pk=voice_id).first()
    if voice is None:
        raise NotFound(f"Voice '{voice_id}' not found.")
    return voice


def find_voice(*, owner: ApiKey | None, voice: str) -> Voice | None:
    """The saved voice a request names, or None for a built-in name nobody mapped; NotFound for unknown names.

    In order: a usable voice with that id; the owner's newest voice with that name (case-insensitive); the
    voice an operator mapped to that OpenAI built-in name, else CSM_DEFAULT_VOICE; a shared voice with that name.
    """
    usable = usable_voices(owner=owner)
    found = (
        usable.filter(pk=voice).first()
        or owned_voices(owner=owner).filter(name__iexact=voice).order_by("-created_at").first()
    )
    if found is not None:
        return found
    if voice.lower() in speech.BUILTIN_VOICES:
        return Voice.objects.filter(builtin_name=voice.lower()).first() or default_voice()
    found = usable.filter(name__iexact=voice).order_by("-created_at").first()
    if found is None:
        raise NotFound(f"Voice '{voice}' not found.")
    return found


def default_voice() -> Voice | None:
    """CSM_DEFAULT_VOICE (a voice id, else the oldest voice with that name); None when unset or missing."""
    wanted = settings.CSM_DEFAULT_VOICE
    if not wanted:
        return None
    found = Voice.objects.filter(pk=wanted).first()
    found = found or Voice.objects.filter(name__iexact=wanted).order_by("created_at").first()
    if found is None:
        logger.warning("CSM_DEFAULT_VOICE=%r names no saved voice; built-in names speak uncloned.", wanted)
    return found


def speech_voice(saved: Voice) -> speech.Voice:
    """What the engine speaks with for a saved voice: its stored codes as context, never a re-encoding."""
    segment = Segment(saved.speaker_id, saved.transcript, saved.codes_tensor())
    return speech.Voice(
        speaker=saved.speaker_id,
        context=[segment],
        sample_text=saved.transcript,
        saved_voice_id=saved.pk,
        consent_id=saved.consent_id,
    )


async def voice_for_speech(
    *, owner: ApiKey | None, voice: str, speaker: int | None = None, param: str = "voice"
) -> speech.Voice:
    """The voice a request asks for by id or name (`voice` in /v1/audio/speech, `voice_id` elsewhere).

    Saved voices speak with their stored codes and speaker id; an unmapped built-in name without a default
    voice is uncloned speech (with `speaker`, else speaker 0). Unknown names and ids: NotFound for `param`.
    """
    from . import services  # services import selectors

    try:
        saved = await sync_to_async(find_voice)(owner=owner, voice=voice)
    except NotFound as error:
        raise NotFound(error.message, param=param) from None
    if saved is None:
        return speech.Voice(speaker=speech.DEFAULT_SPEAKER if speaker is None else speaker, context=[])
    if saved.codes_model != settings.CSM_MODEL:
        saved = await services.reencode_voice(voice=saved)
    return speech_voice(saved)
