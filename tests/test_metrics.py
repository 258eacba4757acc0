"""GET /metrics on live Daphne servers: Prometheus' text format, the names of issue 14, values that follow the
requests served (the engine's worker thread, the event loop and Django's threads all count), refusals by
reason, the WebSocket gauge, the key guard, and the Grafana dashboard's queries."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.audio_checks import decode
from tests.conftest import REPO_DIR, LiveServer, _database_url
from tests.keys import Client, new_key
from tests.prometheus import Scrape, scrape
from tests.streaming.conftest import create_session, text_message, ws_url

METRICS_KEY = "metrics-test-key"
DASHBOARD = REPO_DIR / "deploy" / "grafana" / "csm-voice-api.json"
PROMETHEUS_CONFIG = REPO_DIR / "deploy" / "prometheus.yml"
WAIT = 30

ENGINE_METRICS = {
    "csm_time_to_first_audio_seconds": "histogram",
    "csm_audio_seconds": "counter",
    "csm_generation_seconds": "counter",
    "csm_requests_active": "gauge",
    "csm_requests_waiting": "gauge",
    "csm_requests_rejected": "counter",
    "csm_batch_size": "histogram",
    "csm_frames": "counter",
    "csm_model_info": "gauge",
    "csm_websocket_connections": "gauge",
    "csm_utterances": "counter",
    "csm_cancels": "counter",
}


def wait_for(condition, what: str):
    """Polls `condition` until it is true (WAIT seconds at most); returns its last value."""
    deadline = time.monotonic() + WAIT
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert result, what
    return result


# ---- the development server (no key) ------------------------------------------------------------------


def test_metrics_are_prometheus_text_with_the_names_of_the_issue(server):
    metrics = scrape(server.url)

    for name, kind in ENGINE_METRICS.items():
        assert metrics.families[name].type == kind, name
    assert {s.labels["kind"] for s in metrics.families["csm_time_to_first_audio_seconds"].samples} == {
        "speech",
        "clone",
        "session",
    }
    reasons = {sample.labels["reason"] for sample in metrics.families["csm_requests_rejected"].samples}
    assert {"queue_full", "rate_limited", "too_long", "too_many_streams", "audio_cap", "unauthorized"} <= reasons
    [info] = metrics.families["csm_model_info"].samples
    assert info.labels == {"model": "tiny-random", "device": "cpu", "dtype": "float32"}
    assert info.value == 1
    # django-prometheus under Daphne: HTTP and database metrics.
    assert "django_http_requests_total_by_method" in metrics.families
    assert "django_db_execute" in metrics.families


def test_a_speech_request_moves_the_engine_and_http_metrics(server):
    server.wait_idle()
    before = scrape(server.url)
    body = {"model": "tts-1", "voice": "alloy", "input": "Hello there.", "response_format": "wav"}
    response = requests.post(f"{server.url}/v1/audio/speech", json={**body, "max_audio_length_ms": 800}, timeout=60)
    assert response.status_code == 200
    seconds = decode(response.content, "wav").duration
    server.wait_idle()
    after = scrape(server.url)

    def delta(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert seconds > 0
    assert delta("csm_time_to_first_audio_seconds_count", kind="speech") == 1
    assert delta("csm_time_to_first_audio_seconds_sum", kind="speech") > 0
    assert delta("csm_time_to_first_audio_seconds_count", kind="session") == 0
    assert delta("csm_audio_seconds_total") == pytest.approx(seconds, abs=1e-6)
    assert delta("csm_frames_total") == round(seconds / 0.08)
    assert delta("csm_generation_seconds_total") > 0
    assert delta("csm_batch_size_count") >= delta("csm_frames_total")
    assert delta("csm_requests_total", kind="speech") == 1
    assert after.value("csm_requests_active") == 0
    assert after.value("csm_requests_waiting") == 0
    view = {"view": "synthesis.views.SpeechView", "method": "POST", "status": "200"}
    assert delta("django_http_responses_total_by_status_view_method_total", **view) == 1


def test_concurrent_requests_add_up_exactly(server):
    """Four requests at once, from four threads, generated together by the engine's worker thread."""
    lengths = [400, 560, 720, 880]

    def speak(milliseconds: int) -> float:
        body = {"model": "tts-1", "voice": "alloy", "input": "Hi there.", "response_format": "wav"}
        response = requests.post(
            f"{server.url}/v1/audio/speech", json={**body, "max_audio_length_ms": milliseconds}, timeout=120
        )
        assert response.status_code == 200
        return decode(response.content, "wav").duration

    server.wait_idle()
    before = scrape(server.url)
    with ThreadPoolExecutor(len(lengths)) as pool:
        seconds = list(pool.map(speak, lengths))
    server.wait_idle()
    after = scrape(server.url)

    assert after.value("csm_audio_seconds_total") - before.value("csm_audio_seconds_total") == pytest.approx(
        sum(seconds), abs=1e-6
    )
    assert after.value("csm_frames_total") - before.value("csm_frames_total") == sum(round(s / 0.08) for s in seconds)
    ttfa = "csm_time_to_first_audio_seconds_count"
    assert after.value(ttfa, kind="speech") - before.value(ttfa, kind="speech") == len(lengths)


def test_a_websocket_counts_its_connection_utterance_session_audio_and_cancel(server, sample_path):
    def gauge_at(value: int) -> Scrape:
        return wait_for(
            lambda: (metrics := scrape(server.url)).value("csm_websocket_connections") == value and metrics,
            f"{value} WebSockets open",
        )

    session_id = create_session(server, sample_path, max_audio_length_ms=400)
    server.wait_idle()
    before = gauge_at(0)  # earlier tests' WebSockets all closed
    with connect(ws_url(server, session_id, mode="stream")) as ws:
        open_now = scrape(server.url)
        ws.send(text_message("Hello there.", is_final=True))
        while not (isinstance(message := ws.recv(timeout=60), str) and json.loads(message)["type"] == "audio.done"):
            pass
        ws.send(json.dumps({"type": "cancel"}))
        assert json.loads(ws.recv(timeout=60)) == {"type": "audio.done", "cancelled": True}
    after = gauge_at(0)

    assert open_now.value("csm_websocket_connections") == 1
    assert after.value("csm_utterances_total") - before.value("csm_utterances_total") == 1
    assert after.value("csm_cancels_total") - before.value("csm_cancels_total") == 1
    ttfa = "csm_time_to_first_audio_seconds_count"
    assert after.value(ttfa, kind="session") - before.value(ttfa, kind="session") == 1


def test_every_metric_the_grafana_dashboard_queries_is_served(server):
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert expressions
    served = {name for name, _ in scrape(server.url).values}
    queried = {name for expr in expressions for name in re.findall(r"\b((?:csm|django|process)_[a-z_]+)\b", expr)}
    assert queried - served == set()
    assert {"csm_time_to_first_audio_seconds_bucket", "csm_requests_active", "csm_audio_seconds_total"} <= queried


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is missing (apt-get install -y prometheus)")
def test_the_shipped_prometheus_configuration_is_valid():
    result = subprocess.run(["promtool", "check", "config", str(PROMETHEUS_CONFIG)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- a production-configured server: keys required, a metrics key, small limits ------------------------


@pytest.fixture(scope="module")
def guarded(django_db_setup, django_db_blocker):
    from django.db import connection

    env = {
        "DEBUG": "0",
        "SECRET_KEY": "metrics-tests",
        "CSM_REQUIRE_API_KEY": "1",
        "CSM_METRICS_KEY": METRICS_KEY,
        "CSM_RATE_LIMIT": "2/min",
        "CSM_MAX_STREAMS_PER_KEY": "1",
        "CSM_HEADER_TIMEOUT": "2",
    }
    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env=env)
    yield server
    server.stop()


def guarded_scrape(server: LiveServer) -> Scrape:
    return scrape(server.url, Authorization=f"Bearer {METRICS_KEY}")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {METRICS_KEY}", f"Bearer {METRICS_KEY}x"])
def test_with_a_metrics_key_metrics_refuse_any_other_authorization(guarded, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{guarded.url}/metrics", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"  # as the API's own 401s (OpenAI's shape)
    assert error["code"] == "invalid_metrics_key"


@pytest.mark.django_db(transaction=True)
def test_with_a_metrics_key_metrics_answer_that_key_and_not_an_api_key(guarded):
    assert guarded_scrape(guarded).families["csm_model_info"].samples
    response = requests.get(f"{guarded.url}/metrics", headers={"Authorization": f"Bearer {new_key()}"}, timeout=10)
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_refusals_are_counted_by_reason(guarded):
    def rejected(reason: str) -> float:
        return guarded_scrape(guarded).value("csm_requests_rejected_total", reason=reason)

    body = {"model": "tts-1", "voice": "alloy", "input": "Hi.", "response_format": "pcm", "max_audio_length_ms": 160}
    unauthorized, rate_limited = rejected("unauthorized"), rejected("rate_limited")

    # No key: refused by the server before the body is read (config.server).
    assert requests.post(f"{guarded.url}/v1/audio/speech", json=body, timeout=60).status_code == 401
    assert rejected("unauthorized") == unauthorized + 1
    # Over CSM_RATE_LIMIT (2/min): DRF's throttle, through the API's error handler.
    with Client(guarded, new_key()) as client:
        statuses = [client.post("/v1/audio/speech", json=body).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert rejected("rate_limited") == rate_limited + 1
    assert rejected("unauthorized") == unauthorized + 1


@pytest.mark.django_db(transaction=True)
def test_a_websocket_over_the_streams_cap_is_counted_as_too_many_streams(guarded, sample_path):
    secret = new_key()
    headers = {"Authorization": f"Bearer {secret}"}
    with Client(guarded, secret) as client, Path(sample_path).open("rb") as sample:
        response = client.post(
            "/v1/streaming-session", data={"context_text": "A sample."}, files={"audio_file": sample}
        )
    assert response.status_code == 200, response.text
    url = ws_url(guarded, response.json()["session_id"])
    before = guarded_scrape(guarded).value("csm_requests_rejected_total", reason="too_many_streams")

    with connect(url, additional_headers=headers), connect(url, additional_headers=headers) as second:
        error = json.loads(second.recv(timeout=30))
        with pytest.raises(ConnectionClosed) as closed:
            second.recv(timeout=30)

    assert error["error"]["code"] == "too_many_streams"
    assert closed.value.rcvd.code == 4429
    assert guarded_scrape(guarded).value("csm_requests_rejected_total", reason="too_many_streams") == before + 1


@pytest.mark.django_db(transaction=True)
def test_slow_headers_count_as_request_timeout_and_an_idle_connection_does_not(guarded):
    def timeouts() -> float:
        return guarded_scrape(guarded).value("csm_requests_rejected_total", reason="request_timeout")

    def answer(sent: bytes) -> bytes:
        """What the server answers a connection that sends `sent`, then nothing, until it closes it."""
        with socket.create_connection(("127.0.0.1", guarded.port), timeout=WAIT) as sock:
            sock.sendall(sent)
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
        return received

    before = timeouts()
    assert answer(b"").startswith(b"HTTP/1.1 408")  # a connection that never sends a request
    assert timeouts() == before
    assert answer(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n").startswith(b"HTTP/1.1 408")  # headers unfinished
    assert timeouts() == before + 1
