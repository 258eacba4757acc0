"""What a first run says: where the docs are, and what to do when the model's weights cannot be loaded."""

from pathlib import Path

import pytest
import requests

from tests.conftest import LiveServer, _database_url


def test_the_server_log_says_where_the_docs_playground_and_admin_are(server):
    log = Path(server.log.name).read_text()
    assert "docs at /docs, playground at /playground, admin at /admin" in log


@pytest.fixture
def server_without_weights(django_db_setup):
    """The default model on a machine that cannot download it (offline, no local copy)."""
    from django.db import connection

    server = LiveServer(
        database_url=_database_url(connection.settings_dict),
        extra_env={"CSM_MODEL": "sesame/csm-1b", "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent/hf-home"},
    )
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_without_weights_health_and_every_503_say_what_to_do(server_without_weights):
    model = server_without_weights.health()["model"]
    assert model["status"] == "failed"
    for advice in ("HF_TOKEN", "CSM_MODEL", "local folder", "CSM_MODEL=tiny-random"):
        assert advice in model["error"], model["error"]
    response = requests.post(
        f"{server_without_weights.url}/v1/audio/speech",
        json={"model": "tts-1", "voice": "alloy", "input": "Hello."},
        timeout=30,
    )
    assert response.status_code == 503
    assert response.json()["error"]["message"] == model["error"]
