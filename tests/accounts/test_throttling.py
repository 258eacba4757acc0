"""Per-key throttling of synthesis requests, on a server with a tiny rate."""

from __future__ import annotations

import pytest

from tests.conftest import LiveServer, _database_url
from tests.keys import SAMPLE, Client, clone, new_key, speak

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def throttled_server(django_db_setup, django_db_blocker) -> LiveServer:
    from django.db import connection

    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env={"CSM_RATE_LIMIT": "2/min"})
    yield server
    server.stop()


def test_each_key_has_its_own_budget_and_429_says_when_to_retry(throttled_server):
    alice, bob = Client(throttled_server, new_key("alice")), Client(throttled_server, new_key("bob"))
    assert speak(alice, "alloy").status_code == 200
    assert clone(alice).status_code == 200  # every synthesis endpoint counts
    for response in (speak(alice, "alloy"), clone(alice)):
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= 60
        error = response.json()["error"]
        assert error["type"] == "rate_limit_error" and set(error) == {"message", "type", "param", "code"}
    assert speak(bob, "alloy").status_code == 200
    assert alice.get("/v1/audio/voices").status_code == 200  # reads are not throttled
    assert alice.get("/v1/audio/voice_consents").status_code == 200


def test_voice_creation_is_throttled_too(throttled_server):
    carol = Client(throttled_server, new_key("carol"))
    for _ in range(2):
        speak(carol, "alloy")
    with SAMPLE.open("rb") as sample:
        response = carol.post("/v1/audio/voices", data={"name": "x", "consent": "c"}, files={"audio_sample": sample})
    assert response.status_code == 429


def test_requests_without_a_key_are_counted_per_address(throttled_server):
    anonymous = Client(throttled_server)
    statuses = [speak(anonymous, "alloy").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
