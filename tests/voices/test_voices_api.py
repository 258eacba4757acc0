"""/v1/audio/voices, /v1/audio/models and saved voices in the speech endpoints (keys optional: `server`)."""

from __future__ import annotations

import pytest
from django.core.files.storage import default_storage

from speech.voice import BUILTIN_VOICES
from tests.audio_checks import decode
from tests.conftest import SAMPLE_TEXT
from tests.fixtures import BAD_AUDIO_DIR
from tests.keys import SAMPLE, Client, clone, create_consent, create_voice, speak


@pytest.fixture
def client(server) -> Client:
    return Client(server)


@pytest.fixture
def consent(client) -> dict:
    return create_consent(client)


def test_create_returns_the_openai_object_and_stores_codes_once(client, consent):
    from voices.models import Voice

    body = create_voice(client, consent["id"], name="Alice", speaker_id=3)
    assert set(body) == {"object", "id", "name", "created_at", "type"}
    assert (body["object"], body["type"], body["name"]) == ("audio.voice", "audio_sample", "Alice")
    assert body["id"].startswith("voice_")
    voice = Voice.objects.get(pk=body["id"])
    assert (voice.consent_id, voice.transcript, voice.speaker_id, voice.owner) == (consent["id"], SAMPLE_TEXT, 3, None)
    assert voice.sample.read() == SAMPLE.read_bytes()
    assert voice.codes_model == "tiny-random"
    codes = voice.codes_tensor()
    assert codes.shape == (voice.codebooks, voice.frames) and voice.frames > 0
    assert int(codes.min()) >= 0


def test_speaker_id_defaults_to_0_and_transcript_to_empty(client, consent):
    from voices.models import Voice

    with SAMPLE.open("rb") as sample:
        body = client.post(
            "/v1/audio/voices", data={"name": "a", "consent": consent["id"]}, files={"audio_sample": sample}
        ).json()
    voice = Voice.objects.get(pk=body["id"])
    assert (voice.speaker_id, voice.transcript) == (0, "")


@pytest.mark.parametrize(
    ("fields", "sample", "status", "param"),
    [
        ({"consent": "cons_nope"}, SAMPLE, 404, "consent"),
        ({"consent": None}, SAMPLE, 400, "consent"),
        ({"name": None}, SAMPLE, 400, "name"),
        ({}, None, 400, "audio_sample"),
        ({}, BAD_AUDIO_DIR / "noise_45s.wav", 400, "audio_sample"),
        ({}, BAD_AUDIO_DIR / "truncated_header.wav", 400, "audio_sample"),
        ({"type": "prompt"}, SAMPLE, 400, "type"),
        ({"speaker_id": -1}, SAMPLE, 400, "speaker_id"),
    ],
)
def test_invalid_voices_are_refused(client, consent, fields, sample, status, param):
    from voices.models import Voice

    data = {"name": "a", "consent": consent["id"], **fields}
    data = {key: value for key, value in data.items() if value is not None}
    files = {"audio_sample": sample.open("rb")} if sample else None
    response = client.post("/v1/audio/voices", data=data, files=files)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert not Voice.objects.exists()


def test_oversized_sample_is_413(client, consent, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    response = client.post(
        "/v1/audio/voices", data={"name": "a", "consent": consent["id"]}, files={"audio_sample": big.open("rb")}
    )
    assert response.status_code == 413


def test_retrieve_list_and_delete(client, consent):
    from voices.models import Voice

    voice = create_voice(client, consent["id"], name="Alice")
    assert client.get(f"/v1/audio/voices/{voice['id']}").json() == voice
    listed = client.get("/v1/audio/voices").json()
    assert listed["object"] == "list"
    assert listed["data"][0] == voice
    assert listed["voices"][0] == {"id": voice["id"], "name": "Alice"}
    sample_name = Voice.objects.get(pk=voice["id"]).sample.name
    deleted = client.delete(f"/v1/audio/voices/{voice['id']}")
    assert deleted.json() == {"id": voice["id"], "deleted": True, "object": "audio.voice.deleted"}
    assert not default_storage.exists(sample_name)
    assert client.get(f"/v1/audio/voices/{voice['id']}").status_code == 404
    assert client.delete(f"/v1/audio/voices/{voice['id']}").status_code == 404
    assert client.get(f"/v1/audio/voice_consents/{consent['id']}").status_code == 200  # the consent stays


def test_list_has_builtin_names_in_both_shapes(client):
    listed = client.get("/v1/audio/voices").json()
    assert [voice["id"] for voice in listed["voices"]] == list(BUILTIN_VOICES)
    assert [voice["name"] for voice in listed["data"]] == list(BUILTIN_VOICES)
    assert all(voice["object"] == "audio.voice" for voice in listed["data"])


def test_audio_models_in_open_webui_shape(client):
    assert client.get("/v1/audio/models").json() == {
        "models": [{"id": "csm-1b"}, {"id": "tts-1"}, {"id": "tts-1-hd"}, {"id": "gpt-4o-mini-tts"}]
    }


@pytest.mark.parametrize("how", ["id", "object", "name", "name in other case"])
def test_speech_with_a_saved_voice(client, consent, how):
    voice = create_voice(client, consent["id"], name="Alice Smith")
    chosen = {"id": voice["id"], "object": {"id": voice["id"]}, "name": "Alice Smith"}.get(how, "alice smith")
    response = speak(client, chosen)
    assert response.status_code == 200, response.text
    assert decode(response.content, "pcm").duration == pytest.approx(0.16, abs=0.01)


def test_saved_voice_never_re_encodes_its_sample(client, consent):
    """The sample file is replaced by garbage after creation: speech still works from the stored codes."""
    from voices.models import Voice

    voice = create_voice(client, consent["id"])
    with default_storage.open(Voice.objects.get(pk=voice["id"]).sample.name, "wb") as handle:
        handle.write(b"not audio any more")
    assert speak(client, {"id": voice["id"]}).status_code == 200
    assert clone(client, voice_id=voice["id"]).status_code == 200


def test_codes_of_another_model_are_recomputed_once(client, consent):
    from voices.models import Voice

    voice = create_voice(client, consent["id"])
    saved = Voice.objects.get(pk=voice["id"])
    Voice.objects.filter(pk=saved.pk).update(codes_model="another/model", codes=b"")
    assert speak(client, voice["id"]).status_code == 200
    saved.refresh_from_db()
    assert saved.codes_model == "tiny-random"
    assert saved.codes_tensor().shape == (saved.codebooks, saved.frames)


def test_voice_clone_with_a_saved_voice_records_voice_and_consent(client, consent):
    from synthesis.models import Clip

    voice = create_voice(client, consent["id"])
    response = clone(client, voice_id=voice["id"], output_format="wav")
    assert response.status_code == 200, response.text
    clip = Clip.objects.get()
    assert (clip.voice_id, clip.consent_id, clip.owner) == (voice["id"], consent["id"], None)
    assert not clip.voice_sample  # the saved voice's sample is not copied
    assert response.json()["audio_url"] == f"/v1/audio/{clip.filename}"  # no key, no owner: a plain URL
    assert client.get(response.json()["audio_url"]).status_code == 200


def test_clips_keep_their_record_when_the_voice_goes(client, consent):
    from synthesis.models import Clip

    voice = create_voice(client, consent["id"])
    clone(client, voice_id=voice["id"])
    client.delete(f"/v1/audio/voices/{voice['id']}")
    clip = Clip.objects.get()
    assert clip.voice_id is None and clip.consent_id == consent["id"]


def test_unknown_voices_are_404(client):
    for voice in ("voice_0123456789abcdef01234567", "no such voice", {"id": "voice_nope"}):
        response = speak(client, voice)
        assert response.status_code == 404
        assert response.json()["error"]["param"] == "voice"
    response = clone(client, voice_id="voice_nope")
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "voice_id"


def test_builtin_names_use_the_operators_mapping(client, consent):
    from synthesis.models import Clip
    from voices.models import Voice

    voice = create_voice(client, consent["id"])
    clone(client, voice_id="alloy")
    assert Clip.objects.get().voice_id is None  # unmapped: uncloned speech
    Voice.objects.filter(pk=voice["id"]).update(builtin_name="alloy")
    clone(client, voice_id="alloy")
    clone(client, voice_id="echo")
    assert [clip.voice_id for clip in Clip.objects.order_by("created_at")] == [None, voice["id"], None]
    assert speak(client, "Alloy").status_code == 200


@pytest.mark.parametrize("again", ["alice", "ALICE", "Alice"])
def test_a_name_is_unique_per_owner_ignoring_case(client, consent, again):
    """`"voice": "alice"` must mean one voice: a second voice with that name is refused, and nothing is stored."""
    from voices.models import Voice

    first = create_voice(client, consent["id"], name="Alice")
    files = default_storage.listdir("voices")[1]
    with SAMPLE.open("rb") as sample:
        response = client.post(
            "/v1/audio/voices", data={"name": again, "consent": consent["id"]}, files={"audio_sample": sample}
        )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["code"]) == ("name", "name_taken")
    assert first["id"] in error["message"]
    assert list(Voice.objects.values_list("pk", flat=True)) == [first["id"]]
    assert default_storage.listdir("voices")[1] == files


def test_a_taken_name_is_free_again_once_its_voice_is_deleted(client, consent):
    first = create_voice(client, consent["id"], name="alice")
    assert client.delete(f"/v1/audio/voices/{first['id']}").status_code == 200
    create_voice(client, consent["id"], name="Alice")
