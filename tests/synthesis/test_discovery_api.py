"""Models, health and the API docs."""

import pytest
import requests

from tests.conftest import LiveServer


def test_models_list_and_detail(api):
    body = api.get("/v1/models").json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["csm-1b", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
    assert all(set(model) == {"id", "object", "created", "owned_by"} for model in body["data"])
    assert api.get("/v1/models/tts-1-hd").json()["id"] == "tts-1-hd"
    missing = api.get("/v1/models/whisper-1")
    assert missing.status_code == 404
    assert missing.json()["error"]["param"] == "model"


def test_health_reports_the_loaded_model(api):
    body = api.get("/health").json()
    assert body["status"] == "ok"
    assert body["model"]["status"] == "ready"
    assert body["model"]["name"] == "tiny-random"
    assert body["model"]["device"] == "cpu"


def test_unknown_api_path_is_a_json_404(api):
    response = api.get("/v1/nothing/here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_openapi_documents_every_endpoint_with_binary_responses(api):
    schema = api.get("/openapi.json").json()
    paths = schema["paths"]
    for path in ["/v1/audio/speech", "/v1/voice-clone", "/v1/audio/{filename}", "/v1/models", "/v1/models/{model_id}"]:
        assert path in paths, path
    speech = paths["/v1/audio/speech"]["post"]
    assert "audio/mpeg" in speech["responses"]["200"]["content"]
    assert speech["responses"]["200"]["content"]["audio/mpeg"]["schema"]["format"] == "binary"
    assert "multipart/form-data" in paths["/v1/voice-clone"]["post"]["requestBody"]["content"]
    assert "/health" in paths


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_render_offline_from_the_sidecar(api, page):
    response = api.get(page)
    assert response.status_code == 200
    assert "static/drf_spectacular_sidecar" in response.text
    asset = response.text.split('src="', 1)[1].split('"', 1)[0]
    assert api.get(asset).status_code == 200


@pytest.fixture(scope="module")
def broken_server(django_db_setup):
    from django.db import connection

    from tests.conftest import _database_url

    server = LiveServer(
        database_url=_database_url(connection.settings_dict),
        extra_env={"CSM_MODEL": "/nonexistent/csm-model", "HF_HUB_OFFLINE": "1"},
    )
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_failed_model_keeps_server_up_and_explains_why(broken_server):
    response = requests.get(f"{broken_server.url}/health", timeout=10)
    assert response.status_code == 503  # up, but it cannot serve speech
    health = response.json()
    assert health["status"] == "unavailable"
    assert health["model"]["status"] == "failed"
    assert "/nonexistent/csm-model" in health["model"]["error"]
    response = requests.post(
        f"{broken_server.url}/v1/audio/speech",
        json={"model": "tts-1", "input": "Hello.", "voice": "alloy"},
        timeout=10,
    )
    assert response.status_code == 503
    assert response.json()["error"]["message"] == health["model"]["error"]
    assert requests.get(f"{broken_server.url}/v1/models", timeout=10).status_code == 200
