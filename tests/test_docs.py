"""The API docs a user tries things in: ReDoc fully offline, and request examples that succeed as sent.

Swagger UI's "Try it out" sends an operation's first request example (or, without one, a body made up from the
schema, which used to be refused); each example here is sent to the live server as Swagger sends it, with the
ids of real objects in place of the placeholder ids and, for uploads, a real audio file attached.
"""

from __future__ import annotations

import pytest

from tests.conftest import SAMPLE_TEXT
from tests.keys import SAMPLE, Client, create_consent
from tests.streaming.conftest import create_session
from tests.test_pages import external_references

UPLOADS = {"audio_file", "audio_sample", "recording", "file"}


def test_redoc_is_fully_offline(api):
    html = api.get("/redoc").text
    assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html
    assert external_references(html) == []
    # The bundle itself shows Redocly's logo from a CDN: the page's policy keeps images on this server.
    assert """<meta http-equiv="Content-Security-Policy" content="img-src 'self' data: blob:""" in html
    bundle = html.split('<script src="', 1)[1].split('"', 1)[0]
    assert bundle.startswith("/static/drf_spectacular_sidecar/") and api.get(bundle).status_code == 200


def request_examples(schema: dict) -> list[tuple[str, str, str, dict]]:
    """(method, path, content type, example value) of every request example in the schema."""
    found = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for content_type, media in operation.get("requestBody", {}).get("content", {}).items():
                for example in media.get("examples", {}).values():
                    found.append((method, path, content_type, example["value"]))
    return found


def test_every_operation_with_a_body_has_examples(api):
    """On the content type Swagger UI offers first (JSON where an operation takes it, else multipart)."""
    schema = api.get("/openapi.json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                content_type, media = next(iter(operation["requestBody"]["content"].items()))
                assert media.get("examples"), (method, path, content_type)


def test_every_request_example_succeeds_against_the_live_server(server, sample_path):
    client = Client(server)
    schema = client.get("/openapi.json").json()
    examples = request_examples(schema)
    assert {path for _, path, _, _ in examples} == {
        "/v1/audio/speech", "/v1/voice-clone", "/v1/streaming-session", "/v1/stream-text", "/v1/audio/voices",
        "/v1/audio/voice_consents", "/v1/audio/voice_consents/{consent_id}", "/v1/audio/verify",
    }  # fmt: skip
    for method, path, content_type, value in examples:
        consent = create_consent(client, name="Swagger")["id"]
        value = dict(value)
        if "consent" in value:
            value["consent"] = consent
        if "session_id" in value:
            value["session_id"] = create_session(server, sample_path, context_text=SAMPLE_TEXT)
        url = path.replace("{consent_id}", consent)
        if content_type == "application/json":
            response = client.request(method, url, json=value)
        else:
            upload = next(iter(UPLOADS & set(schema_properties(schema, path, method, content_type))))
            with SAMPLE.open("rb") as audio:
                response = client.request(method, url, data=value, files={upload: (SAMPLE.name, audio)})
        assert 200 <= response.status_code < 300, (method, path, value, response.text[:500])


def schema_properties(schema: dict, path: str, method: str, content_type: str) -> dict:
    body = schema["paths"][path][method]["requestBody"]["content"][content_type]["schema"]
    name = body["$ref"].rsplit("/", 1)[1]
    return schema["components"]["schemas"][name]["properties"]


@pytest.mark.parametrize("path", ["/v1/audio/speech"])
def test_the_first_example_is_what_swagger_sends(api, path):
    """Swagger UI sends the first example: a plain request that any server can answer."""
    media = api.get("/openapi.json").json()["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    first = next(iter(media["examples"].values()))["value"]
    assert first == {"model": "tts-1", "voice": "alloy", "input": "Hello there!", "response_format": "mp3"}
