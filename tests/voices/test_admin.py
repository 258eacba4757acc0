"""The admin pages, rendered by the Django test client as a logged-in superuser."""

from __future__ import annotations

import re
import uuid

import pytest
import torch
from django.contrib.admin.utils import quote
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse

from accounts.models import ApiKey
from accounts.services import create_api_key, hash_secret
from synthesis.models import Clip
from voices.models import Voice, VoiceConsent

pytestmark = pytest.mark.django_db


def object_url(name: str, pk: object) -> str:
    """An admin page of one object, its id quoted as the admin's own links quote it (an id such as
    `cons_40...` would otherwise be read back as `cons@...`)."""
    return reverse(name, args=[quote(pk)])


@pytest.fixture
def objects() -> dict:
    key, _ = create_api_key(name="studio")
    consent = VoiceConsent(owner=key, name="Alice's consent", language="en-US")
    consent.recording.save("consent.wav", ContentFile(b"RIFF consent"), save=False)
    consent.save()
    voice = Voice(owner=key, name="Alice", consent=consent, transcript="Hello.")
    voice.set_codes(torch.zeros(4, 10, dtype=torch.long), model="tiny-random")
    voice.sample.save("sample.wav", ContentFile(b"RIFF sample"), save=False)
    voice.save()
    clip = Clip(
        id=uuid.uuid4(), text="Hi.", output_format="wav", duration_seconds=0.5, owner=key, voice=voice, consent=consent
    )
    clip.file.save(f"{clip.id.hex}.wav", ContentFile(b"RIFF clip"), save=False)
    clip.save()
    return {"key": key, "consent": consent, "voice": voice, "clip": clip}


MODELS = {"key": "accounts_apikey", "consent": "voices_voiceconsent", "voice": "voices_voice", "clip": "synthesis_clip"}


@pytest.mark.parametrize("name", list(MODELS))
def test_changelists_and_change_pages_render(admin_client, objects, name):
    changelist = admin_client.get(reverse(f"admin:{MODELS[name]}_changelist"))
    assert changelist.status_code == 200
    change = admin_client.get(object_url(f"admin:{MODELS[name]}_change", objects[name].pk))
    assert change.status_code == 200
    search = admin_client.get(reverse(f"admin:{MODELS[name]}_changelist"), {"q": "Alice"})
    assert search.status_code == 200


@pytest.mark.parametrize(("name", "field"), [("consent", "recording"), ("voice", "sample"), ("clip", "file")])
def test_lists_have_lazy_audio_players(admin_client, objects, name, field):
    html = admin_client.get(reverse(f"admin:{MODELS[name]}_changelist")).content.decode()
    url = getattr(objects[name], field).url
    assert f'<audio controls preload="none" src="{url}"></audio>' in html
    assert admin_client.get(url).status_code == 200  # staff can play local media


def test_generated_fields_are_read_only(admin_client, objects):
    html = admin_client.get(object_url("admin:voices_voice_change", objects["voice"].pk)).content.decode()
    assert 'name="name"' in html and 'name="shared"' in html and 'name="builtin_name"' in html
    for generated in ("codes", "codebooks", "frames", "codes_model", "owner", "consent", "sample", "id"):
        assert f'name="{generated}"' not in html, generated
    assert "4 codebooks x 10 frames" in html


def test_share_toggle_and_builtin_mapping(admin_client, objects):
    voice = objects["voice"]
    changelist = reverse("admin:voices_voice_changelist")
    admin_client.post(changelist, {"action": "share", "_selected_action": [voice.pk]})
    voice.refresh_from_db()
    assert voice.shared
    url = object_url("admin:voices_voice_change", voice.pk)
    form = {"name": "Alice", "shared": "on", "builtin_name": "alloy", "transcript": "Hello.", "speaker_id": 2}
    assert admin_client.post(url, form).status_code == 302
    voice.refresh_from_db()
    assert (voice.builtin_name, voice.speaker_id) == ("alloy", 2)
    filtered = admin_client.get(changelist, {"builtin_name": "alloy"})
    assert "Alice" in filtered.content.decode()


def test_voices_are_not_added_in_admin(admin_client):
    assert admin_client.get(reverse("admin:voices_voice_add")).status_code == 403


def test_deleting_a_voice_or_clip_removes_its_files(admin_client, objects):
    voice, clip = objects["voice"], objects["clip"]
    sample, audio = voice.sample.name, clip.file.name
    assert default_storage.exists(sample) and default_storage.exists(audio)
    for model, pk in (("voices_voice", voice.pk), ("synthesis_clip", clip.pk)):
        response = admin_client.post(object_url(f"admin:{model}_delete", pk), {"post": "yes"})
        assert response.status_code == 302, response.content.decode()[:2000]  # redirected after deleting
    assert not Voice.objects.exists() and not Clip.objects.exists()
    assert not default_storage.exists(sample) and not default_storage.exists(audio)


def test_a_consent_in_use_is_protected(admin_client, objects):
    response = admin_client.post(object_url("admin:voices_voiceconsent_delete", objects["consent"].pk), {"post": "yes"})
    assert VoiceConsent.objects.exists()
    assert "protected" in response.content.decode().lower()


def test_adding_a_key_shows_its_secret_once(admin_client):
    response = admin_client.post(reverse("admin:accounts_apikey_add"), {"name": "ops", "active": "on"}, follow=True)
    html = response.content.decode()
    secret = re.search(r"(csm-[A-Za-z0-9_-]{40,})", html).group(1)
    key = ApiKey.objects.get(name="ops")
    assert key.hashed_secret == hash_secret(secret)
    again = admin_client.get(object_url("admin:accounts_apikey_change", key.pk)).content.decode()
    assert secret not in again
    assert key.prefix in again


def test_deleting_a_key_deletes_what_it_owns_and_the_files(admin_client, objects):
    files = [objects["consent"].recording.name, objects["voice"].sample.name, objects["clip"].file.name]
    response = admin_client.post(object_url("admin:accounts_apikey_delete", objects["key"].pk), {"post": "yes"})
    assert response.status_code == 302
    assert not (ApiKey.objects.exists() or VoiceConsent.objects.exists() or Voice.objects.exists())
    assert not Clip.objects.exists()
    assert not any(default_storage.exists(name) for name in files)
