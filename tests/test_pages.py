"""The pages a user lands on: the landing page at /, its static files, and the API's JSON index at /v1/."""

from __future__ import annotations

import re

import pytest
import requests

from tests.conftest import LiveServer

LINKS = ["/docs", "/redoc", "/playground", "/admin/", "/health"]


def external_references(html: str) -> list[str]:
    """Every src, href, CSS url() or @import in a page that points at another host."""
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    references += re.findall(r"""url\(\s*["']?([^"')]+)""", html)
    references += re.findall(r"""@import\s+["']([^"']+)""", html)
    return [ref for ref in references if re.match(r"^(https?:)?//", ref)]


def check_landing_page(url: str) -> None:
    page = requests.get(f"{url}/", timeout=10)
    assert page.status_code == 200, page.text[:500]
    assert page.headers["Content-Type"].startswith("text/html")
    html = page.text
    assert "csm-voice-api" in html and "OpenAI-compatible" in html
    for link in LINKS:
        assert f'href="{link}"' in html, link
    assert external_references(html) == []  # no CDN: the page and its assets come from this server
    stylesheet = re.search(r'<link rel="stylesheet" href="([^"]+)"', html).group(1)
    module = re.search(r'<script type="module" src="([^"]+)"', html).group(1)
    css = requests.get(url + stylesheet, timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert external_references(css.text) == []
    script = requests.get(url + module, timeout=10)
    assert script.status_code == 200
    assert "javascript" in script.headers["Content-Type"]
    assert 'fetch("/health"' in script.text  # the model's status, from the public API
    assert external_references(script.text) == []


def test_landing_page_and_its_files(server):
    check_landing_page(server.url)


@pytest.fixture(scope="module")
def production_server(django_db_setup):
    """DEBUG off (where / used to be a bare 404); the model is left unloadable, which the page does not need."""
    from django.db import connection

    from tests.conftest import _database_url

    server = LiveServer(
        database_url=_database_url(connection.settings_dict),
        extra_env={"DEBUG": "0", "SECRET_KEY": "test-secret", "CSM_MODEL": "/nonexistent/csm-model"},
    )
    yield server
    server.stop()


@pytest.mark.django_db(transaction=True)
def test_landing_page_without_debug(production_server):
    check_landing_page(production_server.url)
    assert requests.get(f"{production_server.url}/health", timeout=10).json()["model"]["status"] == "failed"


def test_api_index_answers_without_a_key(auth_server):
    """LiveKit's OpenAI plugin warms up with GET {base_url}/; keys are required on this server."""
    response = requests.get(f"{auth_server.url}/v1/", timeout=10)
    assert response.status_code == 200, response.text
    index = response.json()
    assert index["object"] == "api.index"
    assert "tts-1" in index["models"]
    assert index["docs"]["swagger_ui"] == "/docs" and index["docs"]["openapi"] == "/openapi.json"
    paths = {endpoint["path"] for endpoint in index["endpoints"]}
    assert {"/v1/audio/speech", "/v1/audio/voices", "/v1/voice-clone", "/v1/streaming-session"} <= paths
    schema = requests.get(f"{auth_server.url}/openapi.json", timeout=10).json()
    documented = {path.replace("{model_id}", "x") for path in schema["paths"]}
    assert paths - {"/v1/ws/stream-text/{session_id}"} <= documented | {"/health"}
