"""Writes for voices and consents, and the one resolution of a request's voice (a sample, or a saved voice by
id or name) to what the engine speaks with. Audio is decoded in a worker thread and encoded by the engine,
never in the database thread; database work crosses into async code here, through `sync_to_async`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import QuerySet, RestrictedError

from accounts.models import ApiKey
from speech import audio, pipeline, storage
from speech.errors import ConsentInUse, NameTaken, NotFound, ServiceError
from speech.voice import DEFAULT_SPEAKER
from speech.voice import Voice as SpokenVoice

from . import selectors
from .models import Voice, VoiceConsent

LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


async def create_consent(
    *, owner: ApiKey | None, name: str, language: str, recording: bytes, filename: str
) -> VoiceConsent:
    """Stores a consent recording after checking its language tag (BCP 47) and that it is audio (1-30 s, at most
    10 MiB, not silent)."""
    if not LANGUAGE_TAG.match(language):
        raise ServiceError("language: Give a BCP 47 language tag such as en-US.", param="language")
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


def validate_voice_name(*, name: str, owner: ApiKey | None, shared: bool = False, voice_id: str | None = None) -> None:
    """NameTaken (400 on `name`) when another voice of `owner`, or for a shared voice another shared voice, has
    this name, ignoring case: a name must say which voice a request means."""
    clash = selectors.voice_name_clash(name=name, owner=owner, shared=shared, voice_id=voice_id)
    if clash is None:
        return
    whose = "a shared voice" if clash.shared and clash.owner_id != (owner.pk if owner else None) else "a voice"
    raise NameTaken(f"The name '{name}' is already used by {whose} ({clash.pk}); choose another name.", param="name")


async def create_voice(
    *,
    owner: ApiKey | None,
    name: str,
    consent_id: str,
    sample: bytes,
    filename: str,
    transcript: str = "",
    speaker_id: int = DEFAULT_SPEAKER,
) -> Voice:
    """A voice from a sample and a consent of the same owner; its Mimi codes are computed here, once.
    The name must be free among the owner's voices (NameTaken)."""
    await sync_to_async(validate_voice_name)(name=name, owner=owner)
    consent = await sync_to_async(selectors.get_own_consent)(owner=owner, consent_id=consent_id, param="consent")
    prepared = await pipeline.voice_from_sample(sample, transcript=transcript, speaker=speaker_id, param="audio_sample")
    voice = Voice(owner=owner, name=name, consent=consent, transcript=transcript, speaker_id=speaker_id)
    voice.set_codes(prepared.context[0].codes, model=settings.CSM_MODEL)
    return await sync_to_async(_save_voice)(voice=voice, sample=sample, filename=filename)


def _save_voice(*, voice: Voice, sample: bytes, filename: str) -> Voice:
    """Saves the voice and its sample together: the consent is locked (and must still exist), and the file
    is deleted again when the row cannot be saved. NotFound when the consent was deleted meanwhile; NameTaken
    when another voice took the name meanwhile (the database's unique constraints)."""
    with storage.saved_together(voice.sample):
        try:
            with transaction.atomic():
                if not VoiceConsent.objects.select_for_update().filter(pk=voice.consent_id).exists():
                    raise _consent_gone(voice.consent_id)
                voice.sample.save(filename, ContentFile(sample), save=False)
                voice.save()
        except IntegrityError:  # the consent went between the check and the commit (SQLite does not lock)
            if not VoiceConsent.objects.filter(pk=voice.consent_id).exists():
                raise _consent_gone(voice.consent_id) from None
            validate_voice_name(name=voice.name, owner=voice.owner)
            raise
    return voice


def _consent_gone(consent_id: str) -> NotFound:
    return NotFound(f"Voice consent '{consent_id}' was deleted while the voice was being created.", param="consent")


async def create_voice_with_consent(
    *,
    owner: ApiKey | None,
    name: str,
    sample: bytes,
    filename: str,
    transcript: str = "",
    speaker_id: int = DEFAULT_SPEAKER,
    consent_name: str,
    consent_language: str,
    recording: bytes,
    recording_filename: str,
) -> Voice:
    """A voice and the consent recording it is given with, both or neither (the admin's "upload a consent")."""
    await sync_to_async(validate_voice_name)(name=name, owner=owner)
    consent = await create_consent(
        owner=owner, name=consent_name, language=consent_language, recording=recording, filename=recording_filename
    )
    try:
        return await create_voice(
            owner=owner,
            name=name,
            consent_id=consent.pk,
            sample=sample,
            filename=filename,
            transcript=transcript,
            speaker_id=speaker_id,
        )
    except (ServiceError, IntegrityError):
        await sync_to_async(consent.delete)()
        raise


def share_voices(*, voices: QuerySet[Voice]) -> int:
    """Shares the voices with every key, all or none: NameTaken when one's name is taken among shared voices."""
    shared = 0
    with transaction.atomic():
        for voice in voices.filter(shared=False).defer("codes").order_by("created_at"):
            validate_voice_name(name=voice.name, owner=voice.owner, shared=True, voice_id=voice.pk)
            voice.shared = True
            voice.save(update_fields=["shared"])
            shared += 1
    return shared


@dataclass(frozen=True)
class Assigned:
    consents: int
    voices: int
    clips: int
    sessions: int


def assign_to_key(*, consents: QuerySet[VoiceConsent], key: ApiKey) -> Assigned:
    """Moves consents to `key` with every voice made with them, and the clips and streaming sessions their
    previous owner made with those voices: they then belong to the key, as if it had made them. All or
    nothing: NameTaken when a voice's name is taken among the key's voices. (Used for what was made while keys
    were off, which belongs to no key and is reachable by none once keys are required.)"""
    moved = {"consents": 0, "voices": 0, "clips": 0, "sessions": 0}
    with transaction.atomic():
        chosen = list(consents.values_list("pk", flat=True))  # the admin's querysets may be annotated or distinct
        for consent in VoiceConsent.objects.select_for_update().filter(pk__in=chosen).order_by("created_at"):
            for voice in consent.voices.defer("codes").order_by("created_at"):
                validate_voice_name(name=voice.name, owner=key, shared=voice.shared, voice_id=voice.pk)
                moved["clips"] += voice.clips.filter(owner_id=voice.owner_id).update(owner=key)
                moved["sessions"] += voice.streaming_sessions.filter(owner_id=voice.owner_id).update(owner=key)
                voice.owner = key
                voice.save(update_fields=["owner"])
                moved["voices"] += 1
            moved["clips"] += consent.clips.filter(owner_id=consent.owner_id).update(owner=key)
            consent.owner = key
            consent.save(update_fields=["owner"])
            moved["consents"] += 1
    return Assigned(**moved)


async def reencode_voice(*, voice: Voice) -> Voice:
    """Recomputes a voice's codes with the current model's codec (its codes were made by another model)."""
    sample = await sync_to_async(read_sample)(voice=voice)
    prepared = await pipeline.voice_from_sample(
        sample, transcript=voice.transcript, speaker=voice.speaker_id, param="voice"
    )
    voice.set_codes(prepared.context[0].codes, model=settings.CSM_MODEL)
    await sync_to_async(voice.save)(update_fields=["codes", "codebooks", "frames", "codes_model"])
    return voice


def read_sample(*, voice: Voice) -> bytes:
    """The voice's sample file as uploaded; NotFound when the file is gone from storage."""
    return storage.read_file(voice.sample, missing=f"The sample of voice '{voice.pk}' is missing from storage.")


def delete_voice(*, owner: ApiKey | None, voice_id: str) -> str:
    """Deletes one of the owner's voices and its sample file (shared voices of other owners are 404)."""
    selectors.get_owned_voice(owner=owner, voice_id=voice_id).delete()
    return voice_id


async def resolve_voice(
    *,
    owner: ApiKey | None,
    voice: str | None = None,
    sample: bytes | None = None,
    transcript: str = "",
    speaker: int = DEFAULT_SPEAKER,
    voice_param: str = "voice_id",
    sample_param: str = "audio_file",
) -> SpokenVoice:
    """What a request speaks with: an uploaded `sample` (cloned for this request, as `speaker`), else the voice
    it names by id or name.

    Saved voices speak with their stored codes and speaker id (re-encoded first when another model made the
    codes); an unmapped built-in name without a default voice is uncloned speech as `speaker`. Unknown names
    and ids: NotFound for `voice_param`; a bad sample: InvalidAudio for `sample_param`.
    """
    if sample is not None:
        return await pipeline.voice_from_sample(sample, transcript=transcript, speaker=speaker, param=sample_param)
    try:
        saved = await sync_to_async(selectors.find_voice)(owner=owner, voice=voice or "")
    except NotFound as error:
        raise NotFound(error.message, param=voice_param) from None
    if saved is None:
        return SpokenVoice(speaker=speaker, context=[])
    if saved.codes_model != settings.CSM_MODEL:
        saved = await reencode_voice(voice=saved)
    return selectors.speech_voice(saved)


# The list endpoints share their URLs with async creates, so their views are async too: the reads cross here.
async def list_consents(*, owner: ApiKey | None, after: str | None, limit: int) -> selectors.Page[VoiceConsent]:
    return await sync_to_async(selectors.list_consents)(owner=owner, after=after, limit=limit)


async def list_voices(*, owner: ApiKey | None) -> list[Voice]:
    return await sync_to_async(selectors.list_voices)(owner=owner)
