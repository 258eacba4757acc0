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
from django.utils import timezone

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


def test_add_pages_ask_for_what_the_services_need(admin_client):
    """Adding happens through voices.services (see test_admin_live.py); the pages offer the upload fields."""
    voice = admin_client.get(reverse("admin:voices_voice_add")).content.decode()
    for field in ("name", "owner", "sample", "transcript", "speaker_id", "consent", "consent_recording"):
        assert f'name="{field}"' in voice, field
    assert 'name="codes"' not in voice
    consent = admin_client.get(reverse("admin:voices_voiceconsent_add")).content.decode()
    for field in ("name", "language", "owner", "recording"):
        assert f'name="{field}"' in consent, field


def make_voice(name: str, *, owner=None, shared: bool = False, consent=None) -> Voice:
    if consent is None:
        consent = VoiceConsent(owner=owner, name=f"{name} consent", language="en")
        consent.recording.save("consent.wav", ContentFile(b"RIFF consent"), save=False)
        consent.save()
    voice = Voice(owner=owner, name=name, consent=consent, shared=shared)
    voice.set_codes(torch.zeros(4, 10, dtype=torch.long), model="tiny-random")
    voice.sample.save("sample.wav", ContentFile(b"RIFF sample"), save=False)
    voice.save()
    return voice


def test_sharing_a_name_another_shared_voice_has_is_refused(admin_client, objects):
    voice = objects["voice"]  # "Alice", the studio key's
    other_key, _ = create_api_key(name="other")
    make_voice("ALICE", owner=other_key, shared=True)
    changelist = reverse("admin:voices_voice_changelist")
    response = admin_client.post(changelist, {"action": "share", "_selected_action": [voice.pk]}, follow=True)
    assert "already used by a shared voice" in response.content.decode()
    voice.refresh_from_db()
    assert not voice.shared
    form = {"name": "Alice", "shared": "on", "builtin_name": "", "transcript": "Hello.", "speaker_id": 0}
    response = admin_client.post(object_url("admin:voices_voice_change", voice.pk), form)
    assert response.status_code == 200 and "already used by a shared voice" in response.content.decode()
    voice.refresh_from_db()
    assert not voice.shared


def test_the_share_toggle_in_the_list_is_refused_too(admin_client, objects):
    voice = objects["voice"]
    make_voice("alice", shared=True)
    changelist = reverse("admin:voices_voice_changelist")
    rows = list(Voice.objects.order_by("-created_at", "-id"))
    form = {"form-TOTAL_FORMS": len(rows), "form-INITIAL_FORMS": len(rows), "_save": "Save"}
    for index, row in enumerate(rows):
        form[f"form-{index}-id"] = row.pk
        form[f"form-{index}-shared"] = "on"
    response = admin_client.post(changelist, form)
    assert response.status_code == 200 and "already used by a shared voice" in response.content.decode()
    voice.refresh_from_db()
    assert not voice.shared


def test_two_voices_of_one_name_are_not_shared_by_one_submit(admin_client, objects):
    make_voice("ALICE", owner=create_api_key(name="other")[0])
    rows = list(Voice.objects.order_by("-created_at", "-id"))
    form = {"form-TOTAL_FORMS": len(rows), "form-INITIAL_FORMS": len(rows), "_save": "Save"}
    for index, row in enumerate(rows):
        form[f"form-{index}-id"] = row.pk
        form[f"form-{index}-shared"] = "on"
    response = admin_client.post(reverse("admin:voices_voice_changelist"), form)
    assert response.status_code == 200 and "cannot both be shared" in response.content.decode()
    assert not Voice.objects.filter(shared=True).exists()


def test_renaming_to_a_name_the_owner_uses_is_refused(admin_client, objects):
    other = make_voice("Bob", owner=objects["key"], consent=objects["consent"])
    form = {"name": "alice", "builtin_name": "", "transcript": "", "speaker_id": 0}
    response = admin_client.post(object_url("admin:voices_voice_change", other.pk), form)
    assert response.status_code == 200 and "already used by a voice" in response.content.decode()
    other.refresh_from_db()
    assert other.name == "Bob"


def test_assign_keyless_voices_to_a_key_with_their_consents_clips_and_sessions(admin_client, objects):
    from streaming.models import StreamingSession

    key = objects["key"]
    keyless = make_voice("Carol")
    sibling = make_voice("Carol's other voice", consent=keyless.consent)  # same consent: it moves too
    own_clip = Clip(id=uuid.uuid4(), text="Hi.", output_format="wav", duration_seconds=0.5, voice=keyless)
    own_clip.file.save("own.wav", ContentFile(b"RIFF"), save=False)
    own_clip.save()
    others_clip = Clip(id=uuid.uuid4(), text="Hi.", output_format="wav", duration_seconds=0.5, voice=keyless, owner=key)
    others_clip.file.save("other.wav", ContentFile(b"RIFF"), save=False)
    others_clip.save()
    session = StreamingSession.objects.create(
        id=uuid.uuid4(), voice=keyless, speaker_id=0, temperature=0.6, topk=20, output_format="wav",
        expires_at=timezone.now(),
    )  # fmt: skip
    target, _ = create_api_key(name="new home")
    changelist = reverse("admin:voices_voice_changelist")
    chosen = {"action": "assign_to_key", "_selected_action": [keyless.pk]}
    page = admin_client.post(changelist, chosen).content.decode()
    assert "Assign to an API key" in page and "Carol&#x27;s other voice" in page and 'name="key"' in page
    response = admin_client.post(changelist, {**chosen, "apply": "Assign", "key": target.pk}, follow=True)
    assert "1 consent(s), 2 voice(s), 1 clip(s) and 1 streaming session(s)" in response.content.decode()
    for obj in (keyless, sibling, keyless.consent, own_clip, session):
        obj.refresh_from_db()
        assert obj.owner == target, obj
    others_clip.refresh_from_db()
    assert others_clip.owner == key  # made by another key with the voice: stays that key's


def test_assigning_refuses_a_name_the_key_already_uses(admin_client, objects):
    keyless = make_voice("ALICE")  # the studio key has "Alice"
    changelist = reverse("admin:voices_voiceconsent_changelist")
    chosen = {"action": "assign_to_key", "_selected_action": [keyless.consent.pk], "apply": "Assign"}
    response = admin_client.post(changelist, {**chosen, "key": objects["key"].pk}, follow=True)
    assert "already used by a voice" in response.content.decode()
    keyless.refresh_from_db()
    keyless.consent.refresh_from_db()
    assert keyless.owner is None and keyless.consent.owner is None


def test_keyless_voices_are_pointed_out_when_keys_are_required(admin_client, objects, settings):
    make_voice("Dave")
    changelist = reverse("admin:voices_voice_changelist")
    settings.CSM_REQUIRE_API_KEY = False
    assert "belong to no API key" not in admin_client.get(changelist).content.decode()
    settings.CSM_REQUIRE_API_KEY = True
    assert "1 voice(s) belong to no API key" in admin_client.get(changelist).content.decode()


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
