"""Keys required (`auth_server`): every object belongs to the key that made it; other keys get 404 everywhere."""

from __future__ import annotations

import time
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import openai
import pytest

from tests.keys import SAMPLE, Client, clone, create_consent, create_voice, new_key, speak


@pytest.fixture
def alice(auth_server) -> Client:
    return Client(auth_server, new_key("alice"))


@pytest.fixture
def bob(auth_server) -> Client:
    return Client(auth_server, new_key("bob"))


@pytest.fixture
def anonymous(auth_server) -> Client:
    return Client(auth_server)


@pytest.fixture
def alices(alice) -> dict:
    """Alice's consent, voice and stored clip."""
    consent = create_consent(alice)
    voice = create_voice(alice, consent["id"], name="Alice's voice")
    response = clone(alice, voice_id=voice["id"], output_format="wav")
    assert response.status_code == 200, response.text
    return {"consent": consent, "voice": voice, "audio_url": response.json()["audio_url"]}


def _is_404(response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_objects_are_owned_by_the_key_that_made_them(alice, alices):
    from accounts.models import ApiKey
    from synthesis.models import Clip
    from voices.models import Voice, VoiceConsent

    key = ApiKey.objects.get(name="alice")
    assert VoiceConsent.objects.get().owner == key
    assert Voice.objects.get().owner == key
    clip = Clip.objects.get()
    assert (clip.owner, clip.voice_id, clip.consent_id) == (key, alices["voice"]["id"], alices["consent"]["id"])


def test_another_key_gets_404_for_consents(bob, alices):
    url = f"/v1/audio/voice_consents/{alices['consent']['id']}"
    _is_404(bob.get(url))
    _is_404(bob.post(url, json={"name": "mine now"}))
    _is_404(bob.delete(url))
    assert bob.get("/v1/audio/voice_consents").json()["data"] == []
    _is_404(bob.get("/v1/audio/voice_consents", params={"after": alices["consent"]["id"]}))


def test_another_key_gets_404_for_voices(bob, alices):
    voice_id = alices["voice"]["id"]
    _is_404(bob.get(f"/v1/audio/voices/{voice_id}"))
    _is_404(bob.delete(f"/v1/audio/voices/{voice_id}"))
    assert voice_id not in [voice["id"] for voice in bob.get("/v1/audio/voices").json()["voices"]]
    for chosen in (voice_id, {"id": voice_id}, "Alice's voice"):
        _is_404(speak(bob, chosen))
    _is_404(clone(bob, voice_id=voice_id))
    with SAMPLE.open("rb") as sample:
        response = bob.post(
            "/v1/audio/voices",
            data={"name": "stolen", "consent": alices["consent"]["id"]},
            files={"audio_sample": sample},
        )
    _is_404(response)
    assert response.json()["error"]["param"] == "consent"


def test_the_owner_still_sees_everything(alice, alices):
    assert alice.get(f"/v1/audio/voice_consents/{alices['consent']['id']}").status_code == 200
    assert alice.get(f"/v1/audio/voices/{alices['voice']['id']}").status_code == 200
    assert speak(alice, {"id": alices["voice"]["id"]}).status_code == 200
    assert speak(alice, "alice's voice").status_code == 200
    assert alice.get(alices["audio_url"].split("?")[0]).status_code == 200


def test_clips_need_the_owners_key_or_the_signature(alice, bob, anonymous, alices):
    signed = alices["audio_url"]
    path = signed.split("?")[0]
    assert "sig=" in signed
    _is_404(bob.get(path))
    assert anonymous.get(path).status_code == 401
    assert anonymous.get(f"{path}?sig=forged").status_code == 401
    played = anonymous.get(signed, headers={"Range": "bytes=0-9"})
    assert played.status_code == 206 and len(played.content) == 10
    assert bob.get(signed).status_code == 200  # the URL itself is the credential
    signature = parse_qs(urlsplit(signed).query)["sig"][0]
    other_path = clone(alice, output_format="wav").json()["audio_url"].split("?")[0]  # a signature opens one file
    assert anonymous.get(other_path, params={"sig": signature}).status_code == 401
    _is_404(bob.get(other_path, params={"sig": signature}))


def test_an_expired_signature_no_longer_opens_the_clip(bob, anonymous, alices):
    from synthesis.signing import sign_filename

    filename = alices["audio_url"].split("?")[0].rsplit("/", 1)[1]
    with mock.patch("time.time", return_value=time.time() - 3601):  # the server's TTL is the default hour
        expired = sign_filename(filename)
    fresh = sign_filename(filename)
    path = f"/v1/audio/{filename}"
    assert anonymous.get(path, params={"sig": fresh}).status_code == 200
    assert anonymous.get(path, params={"sig": expired}).status_code == 401
    _is_404(bob.get(path, params={"sig": expired}))


def test_shared_voices_are_usable_by_every_key_but_only_the_owner_deletes(bob, anonymous, alices):
    from voices.models import Voice

    voice_id = alices["voice"]["id"]
    assert voice_id not in [voice["id"] for voice in anonymous.get("/v1/audio/voices").json()["voices"]]
    Voice.objects.filter(pk=voice_id).update(shared=True)
    assert bob.get(f"/v1/audio/voices/{voice_id}").status_code == 200
    assert voice_id in [voice["id"] for voice in bob.get("/v1/audio/voices").json()["voices"]]
    assert voice_id in [voice["id"] for voice in anonymous.get("/v1/audio/voices").json()["voices"]]
    assert speak(bob, {"id": voice_id}).status_code == 200
    assert speak(bob, "Alice's voice").status_code == 200
    _is_404(bob.delete(f"/v1/audio/voices/{voice_id}"))
    _is_404(bob.get(f"/v1/audio/voice_consents/{alices['consent']['id']}"))  # its consent stays private


def test_without_a_key_only_discovery_answers(anonymous):
    for path in ("/v1/audio/voices", "/v1/audio/models", "/v1/models", "/v1/models/tts-1", "/health"):
        assert anonymous.get(path).status_code == 200, path
    for response in (
        anonymous.get("/v1/audio/voice_consents"),
        anonymous.post("/v1/audio/voice_consents", data={"name": "x"}),
        anonymous.post("/v1/audio/voices", data={"name": "x"}),
        anonymous.get("/v1/audio/voices/voice_x"),
        speak(anonymous, "alloy"),
        clone(anonymous),
    ):
        assert response.status_code == 401, response.request.url
        assert response.headers["WWW-Authenticate"] == "Bearer"
        error = response.json()["error"]
        assert error["code"] == "missing_api_key" and set(error) == {"message", "type", "param", "code"}


@pytest.mark.parametrize("secret", ["csm-unknown", "sk-placeholder", "", "csm-"])
def test_bad_keys_are_401(auth_server, secret):
    client = Client(auth_server)
    client.headers["Authorization"] = f"Bearer {secret}"
    response = speak(client, "alloy")
    assert response.status_code == 401
    assert response.json()["error"]["code"] in {"invalid_api_key", "missing_api_key"}


def test_a_deactivated_key_is_401(alice):
    from accounts.models import ApiKey

    assert speak(alice, "alloy").status_code == 200
    ApiKey.objects.filter(name="alice").update(active=False)
    response = speak(alice, "alloy")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_the_official_client_with_two_keys(auth_server, sample_path):
    alice = openai.OpenAI(base_url=f"{auth_server.url}/v1", api_key=new_key("alice"), max_retries=0)
    bob = openai.OpenAI(base_url=f"{auth_server.url}/v1", api_key=new_key("bob"), max_retries=0)
    consent = alice.audio.voice_consents.create(name="Alice", language="en-GB", recording=sample_path)
    voice = alice.audio.voices.create(name="Alice", consent=consent.id, audio_sample=sample_path)
    with pytest.raises(openai.NotFoundError):
        bob.audio.voice_consents.retrieve(consent.id)
    with pytest.raises(openai.NotFoundError):
        bob.audio.voices.delete(voice.id)
    with pytest.raises(openai.NotFoundError):
        bob.audio.speech.create(model="tts-1", voice={"id": voice.id}, input="Hi.")
    assert list(bob.audio.voice_consents.list()) == []
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{auth_server.url}/v1", api_key="csm-wrong", max_retries=0).models.list()
    assert alice.audio.voices.delete(voice.id).deleted
    assert alice.audio.voice_consents.delete(consent.id).deleted


def test_streaming_sessions_and_the_websocket(auth_server, alice, bob, alices):
    """A saved voice in /v1/streaming-session, and the WebSocket's key as a subprotocol, with Origin checks."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    from tests.streaming.conftest import text_message, wav_samples, ws_url

    form = {"voice_id": alices["voice"]["id"], "max_audio_length_ms": "160"}
    refused = bob.post("/v1/streaming-session", data=form)
    _is_404(refused)
    assert refused.json()["error"]["param"] == "voice_id"
    response = alice.post("/v1/streaming-session", data=form)
    assert response.status_code == 200, response.text
    url = ws_url(auth_server, response.json()["session_id"])
    offered = f"bearer.{alice.secret}"
    with connect(url, subprotocols=[offered], origin="http://localhost:3000") as ws:
        assert ws.subprotocol == offered  # a browser drops the connection unless it is echoed
        ws.send(text_message("Hi.", is_final=True))
        assert len(wav_samples(ws.recv(timeout=60))) == 160 * 24
    for subprotocol, origin, code in (
        (f"bearer.{bob.secret}", None, 4404),
        ("bearer.csm-wrong", None, 4401),
        (offered, "https://evil.example.com", 4403),
    ):
        with connect(url, subprotocols=[subprotocol], origin=origin) as ws, pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
        assert closed.value.rcvd.code == code


def test_voice_names_are_per_key_and_unique_among_shared_voices(alice, bob, alices):
    from voices.models import Voice
    from voices.services import share_voices

    bobs = create_voice(bob, create_consent(bob)["id"], name="ALICE'S VOICE")  # another key: its own names
    Voice.objects.filter(pk=alices["voice"]["id"]).update(shared=True)
    with pytest.raises(Exception, match="already used by a shared voice"):
        share_voices(voices=Voice.objects.filter(pk=bobs["id"]))
    assert not Voice.objects.get(pk=bobs["id"]).shared
    # Bob's own voice keeps the name for Bob; other keys get the shared one.
    assert speak(bob, "alice's voice").status_code == 200
