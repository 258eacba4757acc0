"""/v1/audio/voice_consents over real HTTP (keys optional: the DEBUG `server`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from tests.fixtures import BAD_AUDIO_DIR
from tests.keys import SAMPLE, Client, create_consent, create_voice


@pytest.fixture
def client(server) -> Client:
    return Client(server)


def test_create_returns_the_openai_object_and_stores_the_recording(client):
    from voices.models import VoiceConsent

    body = create_consent(client, name="Alice", language="en-US")
    assert set(body) == {"object", "id", "name", "language", "created_at"}
    assert body["object"] == "audio.voice_consent"
    assert body["id"].startswith("cons_")
    assert (body["name"], body["language"]) == ("Alice", "en-US")
    consent = VoiceConsent.objects.get(pk=body["id"])
    assert int(consent.created_at.timestamp()) == body["created_at"]
    assert consent.owner is None
    assert consent.recording.read() == SAMPLE.read_bytes()


@pytest.mark.parametrize(
    ("data", "recording", "status", "param"),
    [
        ({"name": "A", "language": "english please"}, SAMPLE, 400, "language"),
        ({"language": "en"}, SAMPLE, 400, "name"),
        ({"name": "A", "language": "en"}, None, 400, "recording"),
        ({"name": "A", "language": "en"}, BAD_AUDIO_DIR / "not_audio.mp3", 400, "recording"),
        ({"name": "A", "language": "en"}, BAD_AUDIO_DIR / "silence_2s.wav", 400, "recording"),
    ],
)
def test_invalid_consents_are_refused_and_nothing_is_stored(client, data, recording: Path | None, status, param):
    from voices.models import VoiceConsent

    files = {"recording": recording.open("rb")} if recording else None
    response = client.post("/v1/audio/voice_consents", data=data, files=files)
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert not VoiceConsent.objects.exists()


def test_oversized_recording_is_413(client, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    response = client.post(
        "/v1/audio/voice_consents", data={"name": "A", "language": "en"}, files={"recording": big.open("rb")}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_large"


def test_retrieve_rename_and_delete(client):
    consent = create_consent(client)
    url = f"/v1/audio/voice_consents/{consent['id']}"
    assert client.get(url).json() == consent
    renamed = client.post(url, json={"name": "Alice, renamed"}).json()
    assert renamed == {**consent, "name": "Alice, renamed"}
    assert client.get(url).json()["name"] == "Alice, renamed"
    assert client.post(url, json={"name": ""}).json()["error"]["param"] == "name"
    assert client.delete(url).json() == {"id": consent["id"], "object": "audio.voice_consent", "deleted": True}
    for response in (client.get(url), client.delete(url), client.post(url, json={"name": "x"})):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_deleting_removes_the_recording_file(client):
    from voices.models import VoiceConsent

    consent = create_consent(client)
    name = VoiceConsent.objects.get(pk=consent["id"]).recording.name
    assert default_storage.exists(name)
    client.delete(f"/v1/audio/voice_consents/{consent['id']}")
    assert not default_storage.exists(name)


def test_a_consent_that_voices_use_cannot_be_deleted(client):
    from voices.models import VoiceConsent

    consent = create_consent(client)
    voice = create_voice(client, consent["id"])
    response = client.delete(f"/v1/audio/voice_consents/{consent['id']}")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "consent_in_use"
    assert voice["id"] in error["message"] and "delete them first" in error["message"]
    assert VoiceConsent.objects.filter(pk=consent["id"]).exists()
    client.delete(f"/v1/audio/voices/{voice['id']}")
    assert client.delete(f"/v1/audio/voice_consents/{consent['id']}").json()["deleted"] is True


def _consents(count: int, *, same_time: bool = False) -> list[str]:
    """Consent rows made directly (newest last); all with one created_at when same_time."""
    from voices.models import VoiceConsent

    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    ids = []
    for index in range(count):
        consent = VoiceConsent.objects.create(name=f"c{index}", language="en", recording="consents/x.wav")
        when = start if same_time else start + dt.timedelta(seconds=index)
        VoiceConsent.objects.filter(pk=consent.pk).update(created_at=when)
        ids.append(consent.pk)
    return ids


def _walk(client, limit: int) -> tuple[list[str], list[dict]]:
    """Every page of the list, following last_id."""
    seen, pages, after = [], [], None
    while True:
        params = {"limit": limit, **({"after": after} if after else {})}
        page = client.get("/v1/audio/voice_consents", params=params).json()
        pages.append(page)
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            return seen, pages
        after = page["last_id"]


def test_empty_list(client):
    assert client.get("/v1/audio/voice_consents").json() == {
        "object": "list",
        "data": [],
        "first_id": None,
        "last_id": None,
        "has_more": False,
    }


def test_pages_are_newest_first_and_complete(client):
    ids = _consents(5)
    seen, pages = _walk(client, limit=2)
    assert seen == ids[::-1]
    assert [len(page["data"]) for page in pages] == [2, 2, 1]
    assert [page["has_more"] for page in pages] == [True, True, False]
    assert all(page["first_id"] == page["data"][0]["id"] for page in pages)
    assert all(page["last_id"] == page["data"][-1]["id"] for page in pages)


def test_page_edges(client):
    ids = _consents(3)
    exact = client.get("/v1/audio/voice_consents", params={"limit": 3}).json()
    assert len(exact["data"]) == 3 and exact["has_more"] is False
    after_last = client.get("/v1/audio/voice_consents", params={"after": ids[0]}).json()
    assert after_last["data"] == [] and after_last["has_more"] is False and after_last["first_id"] is None
    assert len(client.get("/v1/audio/voice_consents").json()["data"]) == 3  # default limit 20
    assert client.get("/v1/audio/voice_consents", params={"limit": 100}).status_code == 200


def test_default_limit_is_20(client):
    _consents(21)
    page = client.get("/v1/audio/voice_consents").json()
    assert len(page["data"]) == 20 and page["has_more"] is True


def test_same_creation_time_still_pages_without_gaps_or_repeats(client):
    ids = _consents(5, same_time=True)
    seen, _ = _walk(client, limit=2)
    assert sorted(seen) == sorted(ids)
    assert len(set(seen)) == 5


@pytest.mark.parametrize(
    ("params", "param"), [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "x"}, "limit")]
)
def test_bad_limits_are_400(client, params, param):
    response = client.get("/v1/audio/voice_consents", params=params)
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


def test_unknown_cursor_is_404(client):
    response = client.get("/v1/audio/voice_consents", params={"after": "cons_unknown"})
    assert response.status_code == 404
    assert response.json()["error"]["param"] == "after"
