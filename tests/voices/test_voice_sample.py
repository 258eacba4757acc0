"""GET /v1/audio/voices/{id}/sample: a saved voice's sample as uploaded, for players (the playground's list)."""

from __future__ import annotations

from django.core.files.storage import default_storage

from tests.keys import SAMPLE, Client, create_consent, create_voice, new_key


def test_the_sample_comes_back_as_uploaded_with_an_audio_type(server):
    client = Client(server)
    voice = create_voice(client, create_consent(client)["id"], name="sample-owner")
    response = client.get(f"/v1/audio/voices/{voice['id']}/sample")
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] in ("audio/wav", "audio/x-wav")
    assert response.content == SAMPLE.read_bytes()


def test_unknown_voice_is_a_json_404(server):
    response = Client(server).get("/v1/audio/voices/voice_nope/sample")
    assert response.status_code == 404
    assert "voice_nope" in response.json()["error"]["message"]


def test_a_missing_file_is_a_404_not_a_500(server):
    from voices.models import Voice

    client = Client(server)
    voice = create_voice(client, create_consent(client)["id"], name="lost-sample")
    default_storage.delete(Voice.objects.get(pk=voice["id"]).sample.name)
    response = client.get(f"/v1/audio/voices/{voice['id']}/sample")
    assert response.status_code == 404
    assert "missing" in response.json()["error"]["message"]


def test_only_the_owner_reads_the_sample(auth_server):
    alice, bob = Client(auth_server, new_key("alice")), Client(auth_server, new_key("bob"))
    voice = create_voice(alice, create_consent(alice)["id"], name="private")
    assert alice.get(f"/v1/audio/voices/{voice['id']}/sample").status_code == 200
    assert bob.get(f"/v1/audio/voices/{voice['id']}/sample").status_code == 404
    assert Client(auth_server).get(f"/v1/audio/voices/{voice['id']}/sample").status_code == 401
