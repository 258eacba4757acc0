"""Writes for voices and consents. Audio is decoded in a worker thread and encoded by the engine, never in
the database thread."""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import RestrictedError

from accounts.models import ApiKey
from synthesis import audio
from synthesis import services as speech
from synthesis.errors import ConsentInUse

from . import selectors
from .models import Voice, VoiceConsent


async def create_consent(
    *, owner: ApiKey | None, name: str, language: str, recording: bytes, filename: str
) -> VoiceConsent:
    """Stores a consent recording after checking it is audio (1-30 s, at most 10 MiB, not silent)."""
    await asyncio.to_thread(audio.load_voice_sample, recording, param="recording")
    return await sync_to_async(_save_consent)(
        owner=owner, name=name, language=language, recording=recording, filename=filename
    )


def _save_consent(*, owner: ApiKey | None, name: str, language: str, recording: bytes, filename: str) -> VoiceConsent:
    consent = VoiceConsent(owner=owner, name=name, language=language)
    consent.recording.save(filename, ContentFile(recording), save=False)
    consent.save()
    return consent


def rename_consent(*, owner: ApiKey | None, consent_id: str, name: str) -> VoiceConsent:
    consent = selectors.get_consent(owner=owner, consent_id=consent_id)
    consent.name = name
    consent.save(update_fields=["name"])
    return consent


def delete_consent(*, owner: ApiKey | None, consent_id: str) -> str:
    """Deletes the owner's consent and its recording; ConsentInUse while voices made with it exist."""
    consent = selectors.get_consent(owner=owner, consent_id=consent_id)
    try:
        with transaction.atomic():
            consent.delete()
    except RestrictedError:
        voice_ids = sorted(consent.voices.values_list("pk", flat=True))
        shown = ", ".join(voice_ids[:5]) + (", ..." if len(voice_ids) > 5 else "")
        raise ConsentInUse(
            f"Voice consent '{consent_id}' is still used by {len(voice_ids)} voice(s) ({shown}); delete them first."
        ) from None
    return consent_id


async def create_voice(
    *,
    owner: ApiKey | None,
    name: str,
    consent_id: str,
    sample: bytes,
    filename: str,
    transcript: str = "",
    speaker_id: int = speech.DEFAULT_SPEAKER,
) -> Voice:
    """A voice from a sample and a consent of the same owner; its Mimi codes are computed here, once."""
    consent = await sync_to_async(selectors.get_consent)(owner=owner, consent_id=consent_id, param="consent")
    prepared = await speech.voice_from_sample(sample, transcript=transcript, speaker=speaker_id, param="audio_sample")
    voice = Voice(owner=owner, name=name, consent=consent, transcript=transcript, speaker_id=speaker_id)
    voice.set_codes(prepared.context[0].codes, model=settings.CSM_MODEL)
    return await sync_to_async(_save_voice)(voice=voice, sample=sample, filename=filename)


def _save_voice(*, voice: Voice, sample: bytes, filename: str) -> Voice:
    voice.sample.save(filename, ContentFile(sample), save=False)
    voice.save()
    return voice


async def reencode_voice(*, voice: Voice) -> Voice:
    """Recomputes a voice's codes with the current model's codec (its codes were made by another model)."""
    sample = await sync_to_async(_read_sample)(voice=voice)
    prepared = await speech.voice_from_sample(
        sample, transcript=voice.transcript, speaker=voice.speaker_id, param="voice"
    )
    voice.set_codes(prepared.context[0].codes, model=settings.CSM_MODEL)
    await sync_to_async(voice.save)(update_fields=["codes", "codebooks", "frames", "codes_model"])
    return voice


def _read_sample(*, voice: Voice) -> bytes:
    with voice.sample.open("rb") as handle:
        return handle.read()


def delete_voice(*, owner: ApiKey | None, voice_id: str) -> str:
    """Deletes one of the owner's voices and its sample file (shared voices of other owners are 404)."""
    selectors.get_owned_voice(owner=owner, voice_id=voice_id).delete()
    return voice_id
