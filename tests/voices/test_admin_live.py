"""The admin makes voices and consents with the API's services, through a live server (the engine encodes the
sample), as an operator logged in with a browser would: requests posting the admin's own forms."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import SAMPLE_TEXT, LiveServer
from tests.fixtures import BAD_AUDIO_DIR
from tests.keys import SAMPLE, Client, create_consent, create_voice

NOT_AUDIO = BAD_AUDIO_DIR / "not_audio.mp3"


class Admin(requests.Session):
    """A superuser's browser session on the live server's admin."""

    def __init__(self, server: LiveServer) -> None:
        from django.contrib.auth.models import User

        super().__init__()
        self.base_url = server.url
        User.objects.create_superuser("operator", "operator@example.com", "secret-password")
        login = {**self.form_page("/admin/login/"), "username": "operator", "password": "secret-password"}
        response = self.post("/admin/login/", data={**login, "next": "/admin/"})
        assert response.url.endswith("/admin/"), response.text[:500]

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 120)
        kwargs.setdefault("headers", {"Referer": self.base_url + url})  # Django's CSRF check wants it
        return super().request(method, self.base_url + url, *args, **kwargs)

    def form_page(self, url: str) -> dict[str, str]:
        """GETs a form page; returns its hidden inputs (the CSRF token among them), which a browser sends back."""
        page = self.get(url)
        assert page.status_code == 200, page.text[:500]
        return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))

    def add(self, model: str, data: dict, files: dict) -> requests.Response:
        url = f"/admin/voices/{model}/add/"
        return self.post(url, data={**self.form_page(url), **data, "_save": "Save"}, files=files)


def errors(response: requests.Response) -> str:
    """The text of the form's error lists."""
    return " ".join(re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', response.text, re.S))


@pytest.fixture
def server(django_db_setup):
    """A server of its own for each test: the admin logs every change with content type ids, which a server
    process caches, and the tests' database is flushed (ids renewed) after each test."""
    from django.db import connection

    from tests.conftest import _database_url

    server = LiveServer(database_url=_database_url(connection.settings_dict))
    yield server
    server.stop()


@pytest.fixture
def admin(server) -> Admin:
    return Admin(server)


def upload(path, name: str | None = None) -> tuple[str, bytes]:
    return (name or path.name, path.read_bytes())


def test_admin_adds_a_voice_with_a_consent_recording_prepared_as_the_api_prepares_it(server, admin):
    from accounts.services import create_api_key
    from voices.models import Voice, VoiceConsent

    key, secret = create_api_key(name="studio")
    client = Client(server, secret)
    api_voice = Voice.objects.get(pk=create_voice(client, create_consent(client)["id"])["id"])
    response = admin.add(
        "voice",
        {"name": "Alice from the admin", "owner": key.pk, "transcript": SAMPLE_TEXT, "speaker_id": "4",
         "consent_language": "en-GB"},
        {"sample": upload(SAMPLE), "consent_recording": upload(SAMPLE, "consent.wav")},
    )  # fmt: skip
    assert response.status_code == 200 and response.url.endswith("/admin/voices/voice/"), errors(response)
    voice = Voice.objects.get(name="Alice from the admin")
    assert (voice.owner, voice.transcript, voice.speaker_id, voice.shared) == (key, SAMPLE_TEXT, 4, False)
    assert voice.sample.read() == SAMPLE.read_bytes()
    # The same sample gives the same codes by either path: the engine encoded it, once.
    assert (voice.codebooks, voice.frames, voice.codes_model) == (api_voice.codebooks, api_voice.frames, "tiny-random")
    assert bytes(voice.codes) == bytes(api_voice.codes)
    consent = voice.consent
    assert (consent.owner, consent.language, consent.name) == (key, "en-GB", "Alice from the admin consent")
    assert consent.recording.read() == SAMPLE.read_bytes()
    assert VoiceConsent.objects.count() == 2
    # The key speaks with it by name.
    speech = Client(server, secret).post(
        "/v1/audio/speech",
        json={"model": "tts-1", "input": "Hi.", "voice": "alice from the admin", "response_format": "pcm",
              "max_audio_length_ms": 160},
    )  # fmt: skip
    assert speech.status_code == 200, speech.text


def test_admin_adds_a_voice_with_an_existing_consent(server, admin):
    from voices.models import Voice

    consent = create_consent(Client(server))["id"]  # no key (keys are optional on this server)
    response = admin.add("voice", {"name": "bob", "consent": consent, "speaker_id": "0", "consent_language": "en-US"},
                         {"sample": upload(SAMPLE)})  # fmt: skip
    assert response.url.endswith("/admin/voices/voice/"), errors(response)
    voice = Voice.objects.get(name="bob")
    assert (voice.consent_id, voice.owner, voice.transcript) == (consent, None, "")
    assert voice.frames > 0


@pytest.mark.parametrize(
    ("data", "files", "words"),
    [
        ({"name": "carol"}, {"sample": NOT_AUDIO, "consent_recording": SAMPLE}, "could not"),
        ({"name": "carol"}, {"sample": SAMPLE, "consent_recording": NOT_AUDIO}, "could not"),
        ({"name": "carol"}, {"sample": SAMPLE}, "choose a consent or upload"),
        ({"name": "taken"}, {"sample": SAMPLE, "consent_recording": SAMPLE}, "already used"),
    ],
)
def test_refusals_are_form_errors_and_nothing_is_kept(server, admin, data, files, words):
    from voices.models import Voice, VoiceConsent

    create_voice(Client(server), create_consent(Client(server))["id"], name="Taken")
    voices, consents = Voice.objects.count(), VoiceConsent.objects.count()
    uploads = {field: upload(path) for field, path in files.items()}  # the test audio exists once the session runs
    response = admin.add("voice", {**data, "speaker_id": "0", "consent_language": "en-US"}, uploads)
    assert response.status_code == 200
    assert words in errors(response).lower(), errors(response)
    assert (Voice.objects.count(), VoiceConsent.objects.count()) == (voices, consents)


def test_admin_adds_a_consent_and_refuses_bad_audio(server, admin):
    from voices.models import VoiceConsent

    bad = admin.add("voiceconsent", {"name": "Dan consents", "language": "en-US"}, {"recording": upload(NOT_AUDIO)})
    assert bad.status_code == 200 and "could not" in errors(bad).lower(), errors(bad)
    assert not VoiceConsent.objects.exists()
    good = admin.add("voiceconsent", {"name": "Dan consents", "language": "en-US"}, {"recording": upload(SAMPLE)})
    assert good.url.endswith("/admin/voices/voiceconsent/"), errors(good)
    consent = VoiceConsent.objects.get()
    assert (consent.name, consent.language, consent.owner) == ("Dan consents", "en-US", None)
    assert consent.recording.read() == SAMPLE.read_bytes()
    # The API's own rule applies: a language tag that is not BCP 47 is refused.
    odd = admin.add("voiceconsent", {"name": "x", "language": "english please"}, {"recording": upload(SAMPLE)})
    assert odd.status_code == 200 and VoiceConsent.objects.count() == 1


def test_voices_made_while_keys_were_off_are_assigned_to_a_key(server, auth_server, admin):
    """Made without a key, a voice is no key's once keys are required; assigned in the admin, it is the key's."""
    from accounts.services import create_api_key
    from voices.models import Voice

    voice = create_voice(Client(server), create_consent(Client(server))["id"], name="erin")  # keys off
    key, secret = create_api_key(name="erin's app")
    with_key = Client(auth_server, secret)
    speech = {"model": "tts-1", "input": "Hi.", "voice": "erin", "response_format": "pcm", "max_audio_length_ms": 160}
    assert with_key.post("/v1/audio/speech", json=speech).status_code == 404
    assert with_key.get(f"/v1/audio/voices/{voice['id']}").status_code == 404
    changelist = "/admin/voices/voice/"
    chosen = {**admin.form_page(changelist), "action": "assign_to_key", "_selected_action": [voice["id"]]}
    page = admin.post(changelist, data=chosen)
    assert page.status_code == 200 and 'name="key"' in page.text
    done = admin.post(changelist, data={**chosen, "apply": "Assign", "key": key.pk})
    assert "1 voice(s)" in done.text, done.text[:2000]
    assert Voice.objects.get(pk=voice["id"]).owner == key
    assert with_key.post("/v1/audio/speech", json=speech).status_code == 200
    assert with_key.get(f"/v1/audio/voices/{voice['id']}").json()["name"] == "erin"
