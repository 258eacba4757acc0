"""Reads for voices and consents: pages, lookups by id, and which saved voice a requested name means."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from django.conf import settings
from django.db.models import Q, QuerySet, Value
from django.db.models.functions import Lower

from accounts.models import ApiKey
from accounts.selectors import owned_by
from speech.engine.prompt import Segment
from speech.errors import NotFound
from speech.voice import BUILTIN_VOICES
from speech.voice import Voice as SpokenVoice

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


def get_own_consent(*, owner: ApiKey | None, consent_id: str, param: str | None = None) -> VoiceConsent:
    """The consent `owner` made, exactly (None: made without a key, whatever the key setting); NotFound otherwise.
    A voice's consent must be its owner's; the admin makes voices for any owner, the API for the caller's."""
    consent = VoiceConsent.objects.filter(owner=owner, pk=consent_id).first()
    if consent is None:
        raise NotFound(f"Voice consent '{consent_id}' not found.", param=param)
    return consent


def voice_name_clash(*, name: str, owner: ApiKey | None, shared: bool, voice_id: str | None = None) -> Voice | None:
    """Another voice whose name equals `name`, ignoring case, among `owner`'s voices (None: those made without a
    key) and, for a shared voice, among the shared voices; None when the name is free."""
    scope = Q(owner=owner) if owner is not None else Q(owner__isnull=True)
    if shared:
        scope |= Q(shared=True)
    same_name = Voice.objects.alias(lower_name=Lower("name")).filter(scope, lower_name=Lower(Value(name)))
    if voice_id is not None:
        same_name = same_name.exclude(pk=voice_id)
    return same_name.defer("codes").first()


def owned_voices(*, owner: ApiKey | None) -> QuerySet[Voice]:
    return Voice.objects.filter(owned_by(owner))


def keyless_voices() -> QuerySet[Voice]:
    """Voices made without a key (while keys were off): once keys are required, no request owns them."""
    return Voice.objects.filter(owner__isnull=True)


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
    if voice.lower() in BUILTIN_VOICES:
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


def speech_voice(saved: Voice) -> SpokenVoice:
    """What the engine speaks with for a saved voice: its stored codes as context, never a re-encoding."""
    segment = Segment(saved.speaker_id, saved.transcript, saved.codes_tensor())
    return SpokenVoice(
        speaker=saved.speaker_id,
        context=[segment],
        sample_text=saved.transcript,
        saved_voice_id=saved.pk,
        consent_id=saved.consent_id,
    )
