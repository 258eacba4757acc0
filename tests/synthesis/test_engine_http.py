"""The engine behind HTTP: a client that leaves stops its generation; a full queue is refused at once."""

import pytest
import requests

from tests.conftest import LiveServer, _database_url

# The largest cap a request may ask for: 1500 frames, tens of seconds of work even for tiny-random on a CPU.
LONGEST = {"model": "tts-1", "input": "Keep talking.", "voice": "alloy", "max_audio_length_ms": 120_000}


def test_a_client_that_leaves_stops_the_generation(server):
    with pytest.raises(requests.ReadTimeout):
        requests.post(f"{server.url}/v1/audio/speech", json={**LONGEST, "response_format": "wav"}, timeout=1.5)
    model = server.wait_idle(timeout=10)
    assert model["active_requests"] == 0, "the abandoned request is still generating"


@pytest.fixture(scope="module")
def queueless_server(django_db_setup):
    from django.db import connection

    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env={"CSM_MAX_QUEUE": "0"})
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_is_a_503_with_retry_after(queueless_server):
    response = requests.post(f"{queueless_server.url}/v1/audio/speech", json=LONGEST, timeout=10)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "engine_busy"
