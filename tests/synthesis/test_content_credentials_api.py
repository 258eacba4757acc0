"""Content Credentials over real HTTP: signed responses and clips, sidecars at /v1/audio/{file}.c2pa,
POST /v1/audio/verify, /health and the admin's notice. The server and the tests share the media folder, so
both sign and check with the same development certificate."""

from __future__ import annotations

import pytest
from django.urls import reverse

from speech import content_credentials as cc
from tests.conftest import LiveServer, _database_url
from tests.keys import Client, new_key

SPEECH = {"model": "tts-1", "voice": "alloy", "input": "Hello there.", "max_audio_length_ms": 480}


@pytest.fixture(autouse=True)
def server_credentials():
    """The credentials the live server signs with: the development certificate in the shared media folder."""
    cc.reset_credentials()
    yield
    cc.reset_credentials()


def clone(client, sample_path, **fields):
    data = {"text": "Hello there.", "max_audio_length_ms": 480, **fields}
    with open(sample_path, "rb") as sample:
        return client.post("/v1/voice-clone", files={"audio_file": (sample_path.name, sample)}, data=data)


def flipped(data: bytes) -> bytes:
    altered = bytearray(data)
    altered[len(altered) // 2] ^= 0xFF
    return bytes(altered)


def verify(client, data: bytes, manifest: bytes | None = None):
    files = {"file": ("clip", data)}
    if manifest is not None:
        files["manifest"] = ("clip.c2pa", manifest)
    response = client.post("/v1/audio/verify", files=files)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("fmt", cc.EMBEDDED_FORMATS)
def test_speech_responses_embed_signed_credentials(api, fmt):
    response = api.post("/v1/audio/speech", json={**SPEECH, "response_format": fmt})
    assert response.status_code == 200, response.text
    result = cc.verify(response.content)
    assert result.valid and result.signed_by_this_server and result.embedded
    assert result.claims["action"] == "c2pa.created"
    assert result.claims["digital_source_type"] == cc.TRAINED_ALGORITHMIC_MEDIA
    assert result.claims["software_agent"]["model"] == "tiny-random"
    assert result.claims["request_id"] and result.claims["clip_id"] is None


def test_streamed_and_non_embeddable_responses_are_not_signed(api):
    streamed = api.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav", "stream": True})
    assert not cc.verify(streamed.content).manifest_present
    opus = api.post("/v1/audio/speech", json={**SPEECH, "response_format": "opus"})
    assert opus.status_code == 200
    assert not cc.verify(opus.content).manifest_present


def test_a_stored_wav_clip_embeds_its_credentials_with_its_id(api, sample_path):
    from synthesis.models import Clip

    result = clone(api, sample_path, output_format="wav").json()
    assert result["manifest_url"] is None
    clip = Clip.objects.get()
    assert not clip.manifest
    stored = api.get(result["audio_url"]).content
    checked = verify(api, stored)
    assert checked["valid"] and checked["signed_by_this_server"] and checked["embedded"]
    assert checked["claims"]["clip_id"] == str(clip.id)
    assert checked["claims"]["voice_id"] is None  # not asked for by the operator (and a one-off sample)
    missing = api.get(f"/v1/audio/{clip.filename}.c2pa")
    assert missing.status_code == 404
    assert "inside the audio file" in missing.json()["error"]["message"]


@pytest.mark.parametrize("fmt", ["opus", "aac", "pcm"])
def test_other_clips_get_a_sidecar_manifest(api, sample_path, fmt):
    from synthesis.models import Clip

    result = clone(api, sample_path, output_format=fmt).json()
    clip = Clip.objects.get()
    assert result["manifest_url"] == f"/v1/audio/{clip.filename}.c2pa"
    stored = api.get(result["audio_url"]).content
    sidecar = api.get(result["manifest_url"])
    assert sidecar.status_code == 200
    assert sidecar.headers["Content-Type"] == "application/c2pa"

    without = verify(api, stored)
    assert not without["manifest_present"]
    checked = verify(api, stored, sidecar.content)
    assert checked["valid"] and checked["signed_by_this_server"] and not checked["embedded"]
    assert checked["claims"]["clip_id"] == str(clip.id)
    altered = verify(api, flipped(stored), sidecar.content)
    assert altered["manifest_present"] and not altered["valid"]

    name = clip.manifest.name
    clip.delete()  # the sidecar goes with the clip
    assert not clip.manifest.storage.exists(name)


def test_verify_answers_for_signed_altered_and_unsigned_files(api, sample_path):
    signed = api.post("/v1/audio/speech", json={**SPEECH, "response_format": "mp3"}).content
    body = verify(api, signed)
    assert body["object"] == "audio.verification"
    assert (body["manifest_present"], body["valid"], body["signed_by_this_server"]) == (True, True, True)
    assert body["validation_status"] == []
    claims = body["claims"]
    assert claims["action"] == "c2pa.created"
    assert claims["digital_source_type"] == cc.TRAINED_ALGORITHMIC_MEDIA
    assert claims["software_agent"]["name"] == "csm-voice-api"
    assert claims["when"].endswith("Z") and claims["request_id"]

    altered = verify(api, flipped(signed))
    assert altered["manifest_present"] and not altered["valid"] and not altered["signed_by_this_server"]
    assert "assertion.dataHash.mismatch" in [status["code"] for status in altered["validation_status"]]

    unsigned = verify(api, sample_path.read_bytes())
    assert (unsigned["manifest_present"], unsigned["valid"], unsigned["claims"]) == (False, False, None)


def test_verify_refuses_missing_and_oversized_files(api, tmp_path):
    assert api.post("/v1/audio/verify", data={}).json()["error"]["param"] == "file"
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    with big.open("rb") as handle:
        response = api.post("/v1/audio/verify", files={"file": handle})
    assert response.status_code == 413


def test_sidecars_follow_the_clip_access_rules(auth_server, sample_path):
    owner, other = Client(auth_server, new_key("owner")), Client(auth_server, new_key("other"))
    anonymous = Client(auth_server)
    result = clone(owner, sample_path, output_format="opus").json()
    signed_url = result["manifest_url"]
    path, _, query = signed_url.partition("?")
    assert path.endswith(".opus.c2pa") and query.startswith("sig=")
    assert owner.get(path).status_code == 200
    assert anonymous.get(signed_url).status_code == 200  # the clip URL's signature opens its sidecar
    assert anonymous.get(path).status_code == 401
    assert anonymous.get(f"{path}?sig=forged").status_code == 401
    assert other.get(path).status_code == 404
    assert anonymous.post("/v1/audio/verify", files={"file": ("a.wav", b"RIFF")}).status_code == 401


def test_health_says_the_development_certificate_is_not_trusted(api):
    body = api.get("/health").json()
    part = body["content_credentials"]
    assert part["status"] == "ok" and part["certificate"] == "development"
    assert part["trusted_authority"] is False and "no trusted authority" in part["warning"]


@pytest.mark.django_db
def test_the_admin_says_so_too(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    cc.reset_credentials()
    page = admin_client.get(reverse("admin:synthesis_clip_changelist"))
    assert page.status_code == 200
    assert "development certificate" in page.content.decode()
    assert admin_client.get(f"/media/{cc.DEVELOPMENT_NAME}").status_code == 404  # the key is not served
    assert admin_client.get(f"/media/clips/../{cc.DEVELOPMENT_NAME}").status_code == 404


def test_a_server_that_cannot_sign_says_so_and_answers_503(tmp_path):
    """CSM_C2PA_CERT naming a missing file: /health is 503 naming the part, and signed output is refused with
    503 signing_unavailable (never an unsigned file); streamed output, which is not signed, still works."""
    from django.db import connection

    server = LiveServer(
        database_url=_database_url(connection.settings_dict),
        extra_env={"CSM_C2PA_CERT": str(tmp_path / "missing.pem"), "CSM_C2PA_KEY": str(tmp_path / "missing.key")},
    )
    try:
        client = Client(server)
        health = client.get("/health")
        assert health.status_code == 503
        part = health.json()["content_credentials"]
        assert part["status"] == "unavailable" and "No such file" in part["error"]
        assert str(tmp_path) not in part["error"]
        response = client.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav"})
        assert response.status_code == 503, response.text
        assert response.json()["error"]["code"] == "signing_unavailable"
        streamed = client.post("/v1/audio/speech", json={**SPEECH, "response_format": "wav", "stream": True})
        assert streamed.status_code == 200
    finally:
        server.stop()
