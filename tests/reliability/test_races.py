"""Issue 12, item 4: a consent or voice deleted while a request works with it. Each race is reproduced
deterministically in process: the deletion runs inside the request's long step (encoding or generating),
between the service's read of the parent row and its save."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest
import torch
from asgiref.sync import sync_to_async
from django.conf import settings

from speech.content_credentials import Signed
from speech.engine.prompt import Segment
from speech.errors import NotFound
from speech.voice import Voice as SpokenVoice
from tests.keys import SAMPLE

pytestmark = pytest.mark.django_db(transaction=True)


def media_files(folder: str) -> set[str]:
    root = Path(settings.MEDIA_ROOT) / folder
    return {path.name for path in root.iterdir()} if root.exists() else set()


def make_consent():
    from django.core.files.base import ContentFile

    from voices.models import VoiceConsent

    consent = VoiceConsent(name="Alice", language="en-US")
    consent.recording.save("consent.wav", ContentFile(SAMPLE.read_bytes()), save=False)
    consent.save()
    return consent


def make_voice(consent):
    from django.core.files.base import ContentFile

    from voices.models import Voice

    voice = Voice(name="alice", consent=consent, transcript="Hello.")
    voice.set_codes(torch.zeros(8, 10, dtype=torch.long), model=settings.CSM_MODEL)
    voice.sample.save("sample.wav", ContentFile(SAMPLE.read_bytes()), save=False)
    voice.save()
    return voice


def test_a_consent_deleted_while_its_voice_is_encoded_is_404_and_leaves_no_file(monkeypatch):
    from voices import services
    from voices.models import Voice, VoiceConsent

    consent = make_consent()

    async def encode_while_the_consent_is_deleted(sample, *, transcript, speaker, param):
        await sync_to_async(VoiceConsent.objects.filter(pk=consent.pk).delete)()
        return SpokenVoice(speaker=speaker, context=[Segment(speaker, transcript, torch.zeros(8, 10))])

    monkeypatch.setattr(services.pipeline, "voice_from_sample", encode_while_the_consent_is_deleted)
    before = media_files("voices")
    with pytest.raises(NotFound) as gone:
        asyncio.run(
            services.create_voice(
                owner=None, name="alice", consent_id=consent.pk, sample=SAMPLE.read_bytes(), filename="a.wav"
            )
        )
    assert gone.value.status == 404 and "was deleted" in gone.value.message and gone.value.param == "consent"
    assert not Voice.objects.exists()
    assert media_files("voices") == before  # no orphan sample


def test_a_voice_deleted_while_its_clip_is_generated_keeps_the_clip_without_it(monkeypatch):
    from synthesis import services
    from synthesis.models import Clip
    from voices.models import Voice, VoiceConsent

    voice = make_voice(make_consent())

    async def generate_while_the_voice_and_consent_are_deleted(spoken, text, **sampling):
        await sync_to_async(Voice.objects.filter(pk=voice.pk).delete)()
        await sync_to_async(VoiceConsent.objects.all().delete)()
        return np.zeros(2400, dtype=np.float32)

    monkeypatch.setattr(services.pipeline, "synthesize", generate_while_the_voice_and_consent_are_deleted)
    clip = asyncio.run(
        services.create_clip(
            owner=None,
            text="Hi.",
            sample=None,
            voice_id=voice.pk,
            context_text="",
            speaker_id=0,
            output_format="wav",
            sampling={"temperature": 0.9, "topk": 50},
        )
    )
    stored = Clip.objects.get(pk=clip.pk)  # the generated audio is kept, as if the voice went just after
    assert (stored.voice_id, stored.consent_id) == (None, None)
    assert stored.file.read()[:4] == b"RIFF"
    assert {name for name in media_files("clips")} >= {stored.filename}


def test_a_clip_whose_row_cannot_be_saved_leaves_no_file(monkeypatch):
    from synthesis import services
    from synthesis.models import Clip

    def refuse(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(Clip, "save", refuse)
    before = media_files("clips"), media_files("samples")
    spoken = SpokenVoice(speaker=0, context=[], sample=SAMPLE.read_bytes())
    signed = Signed(b"OggS....", sidecar=b"manifest")  # an opus clip: its sidecar manifest goes too
    with pytest.raises(RuntimeError):
        services._save_clip(uuid.uuid4(), spoken, "Hi.", "opus", {}, signed, 2400, None)
    assert (media_files("clips"), media_files("samples")) == before
