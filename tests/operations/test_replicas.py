"""Issue 14: two replicas behind deploy/nginx.conf share PostgreSQL, Redis and the media store (a folder, then a
bucket in moto's S3 server): a session started on one continues on the other over HTTP and WebSocket, a clip made
on one is served by the other (Range included), the per-key rate limit holds across both, housekeeping runs in
the servers, and killing one mid-stream fails only its own streams.

Which replica served each step: the X-Served-By header (CSM_SERVER_NAME) for HTTP, nginx's access log
(upstream=...) for WebSockets through nginx. Runs in `.ci/run`'s PostgreSQL + Redis pass, where
CSM_REPLICA_TESTS=required turns a missing piece into a failure; skipped elsewhere.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import time
import uuid
from datetime import timedelta

import pytest
import requests
from django.core.cache import cache
from django.utils import timezone
from websockets.sync.client import connect

from accounts.models import ApiKey
from streaming.models import StreamingSession
from synthesis.models import Clip
from tests.conftest import SAMPLE_TEXT, _database_url
from tests.fixtures import SAMPLE
from tests.keys import new_key
from tests.nginx import NGINX
from tests.operations import deployment
from tests.streaming.conftest import text_message, wav_samples

pytestmark = pytest.mark.django_db(transaction=True)  # the replicas read what the tests write, and back

WAIT = 120
RATE = 5  # synthesis requests per key and minute (CSM_RATE_LIMIT)
ORPHAN_AGE = 10  # seconds (CSM_ORPHAN_FILE_AGE_SECONDS; a day by default): short, for the test to see a sweep
REPLICA_ENV = {
    "CSM_RATE_LIMIT": f"{RATE}/min",
    "CSM_HOUSEKEEPING_INTERVAL_SECONDS": "2",
    "CSM_ORPHAN_FILE_AGE_SECONDS": str(ORPHAN_AGE),
}


def _missing(media: str) -> str | None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres") or not os.environ.get("REDIS_URL"):
        return "needs DATABASE_URL (PostgreSQL) and REDIS_URL: .ci/run's PostgreSQL + Redis pass sets them"
    if NGINX is None:
        return "nginx is not installed (apt-get install -y nginx)"
    if media == "s3" and not all(importlib.util.find_spec(name) for name in ("moto", "storages", "boto3")):
        return "the S3 run needs the production and replicas extras: pip install -e '.[production,replicas]'"
    return None


@pytest.fixture(scope="module", params=["local", "s3"], ids=["media-folder", "media-s3"])
def cluster(request, django_db_setup, django_db_blocker, tmp_path_factory):
    reason = _missing(request.param)
    if reason:
        if os.environ.get("CSM_REPLICA_TESTS") == "required":
            pytest.fail(f"CSM_REPLICA_TESTS=required: {reason}")
        pytest.skip(reason)
    from django.db import connection

    started = deployment.start(
        database_url=_database_url(connection.settings_dict),
        redis_url=os.environ["REDIS_URL"],
        workdir=tmp_path_factory.mktemp(f"replicas-{request.param}"),
        s3=request.param == "s3",
        extra_env=REPLICA_ENV,
    )
    yield started
    started.stop()


@pytest.fixture
def key() -> str:
    """A new key, with no requests counted against it in Redis (ids restart with each test database)."""
    secret = new_key()
    cache.delete(f"throttle_synthesis_key-{ApiKey.objects.latest('pk').pk}")
    return secret


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def served_by(response: requests.Response) -> str:
    return response.headers.get("X-Served-By", "")


def create_session(url: str, key: str) -> requests.Response:
    with SAMPLE.open("rb") as sample:
        response = requests.post(
            f"{url}/v1/streaming-session",
            data={"context_text": SAMPLE_TEXT, "max_audio_length_ms": "400"},
            files={"audio_file": sample},
            headers=auth(key),
            timeout=WAIT,
        )
    assert response.status_code == 200, response.text
    return response


def stream_text(url: str, key: str, session_id: str, chunk: str, *, is_final: bool = False) -> requests.Response:
    body = {"session_id": session_id, "text_chunk": chunk, "is_final": is_final}
    response = requests.post(f"{url}/v1/stream-text", json=body, headers=auth(key), timeout=WAIT)
    assert response.status_code == 200, response.text
    return response


def speak(url: str, key: str, **fields) -> requests.Response:
    body = {"model": "tts-1", "input": "Hi.", "voice": "alloy", "response_format": "pcm", "max_audio_length_ms": 160}
    return requests.post(f"{url}/v1/audio/speech", json={**body, **fields}, headers=auth(key), timeout=WAIT)


def test_a_session_started_on_one_replica_continues_on_the_other_over_http(cluster, key):
    a, _ = cluster.replicas
    started = create_session(a.url, key)
    session_id = started.json()["session_id"]
    first = stream_text(a.url, key, session_id, "How")  # buffered on replica-a: no sentence end yet
    # Through nginx, which alternates between the idle replicas: each chunk continues what the other buffered.
    chunks = [stream_text(cluster.nginx.url, key, session_id, chunk) for chunk in (" are", " you")]
    last = stream_text(cluster.nginx.url, key, session_id, "?", is_final=True)
    assert [served_by(started), served_by(first)] == ["replica-a", "replica-a"]
    assert "replica-b" in [served_by(response) for response in chunks]
    assert all(len(wav_samples(response.content)) == 0 for response in [first, *chunks])
    assert len(wav_samples(last.content)) > 0
    session = StreamingSession.objects.get(pk=session_id)
    assert session.previous_text == "How are you?"  # one segment, made of text both replicas received
    assert session.text_buffer == ""


def test_a_session_started_on_one_replica_continues_on_the_other_over_a_websocket(cluster, key):
    a, b = cluster.replicas
    session_id = create_session(a.url, key).json()["session_id"]
    path = f"/v1/ws/stream-text/{session_id}"
    with connect(f"ws://127.0.0.1:{a.port}{path}", additional_headers=auth(key)) as ws:
        ws.send(text_message("Good morning"))
        assert len(wav_samples(ws.recv(timeout=WAIT))) == 0  # buffered on replica-a
    # Two WebSockets through nginx at once: least_conn gives the second to the replica without the first.
    url = f"ws://127.0.0.1:{cluster.nginx.port}{path}"
    with connect(url, additional_headers=auth(key)) as first, connect(url, additional_headers=auth(key)) as second:
        first.send(text_message(" to"))
        assert len(wav_samples(first.recv(timeout=WAIT))) == 0
        second.send(text_message(" you.", is_final=True))
        answer = second.recv(timeout=WAIT)
    assert len(wav_samples(answer)) > 0
    assert StreamingSession.objects.get(pk=session_id).previous_text == "Good morning to you."
    deadline = time.monotonic() + 10  # nginx logs a WebSocket when it closes
    while len(cluster.nginx.upstreams(path)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sorted(cluster.nginx.upstreams(path)) == sorted(f"127.0.0.1:{replica.port}" for replica in (a, b))


def test_a_clip_made_on_one_replica_is_served_by_the_other_with_ranges(cluster, key):
    a, b = cluster.replicas
    with SAMPLE.open("rb") as sample:
        made = requests.post(
            f"{a.url}/v1/voice-clone",
            data={"text": "Hello.", "context_text": SAMPLE_TEXT, "max_audio_length_ms": "800"},
            files={"audio_file": sample},
            headers=auth(key),
            timeout=WAIT,
        )
    assert made.status_code == 200, made.text
    assert served_by(made) == "replica-a"
    audio_url = made.json()["audio_url"]
    assert "sig=" in audio_url  # signed: readable without the key
    whole = requests.get(f"{b.url}{audio_url}", timeout=WAIT)
    assert whole.status_code == 200 and served_by(whole) == "replica-b"
    stored = Clip.objects.get()
    assert whole.content.startswith(b"RIFF") and len(whole.content) > 100
    part = requests.get(f"{b.url}{audio_url}", headers={"Range": "bytes=0-99"}, timeout=WAIT)
    assert part.status_code == 206
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(whole.content)}"
    assert part.content == whole.content[:100]
    through_nginx = requests.get(f"{cluster.nginx.url}{audio_url}", headers={"Range": "bytes=100-199"}, timeout=WAIT)
    assert through_nginx.status_code == 206 and through_nginx.content == whole.content[100:200]
    if cluster.s3 is not None:
        # The object itself is in the bucket; django-storages' presigned URL answers Range requests too.
        storage = cluster.s3.storage()
        assert storage.exists(stored.file.name)
        signed = storage.url(stored.file.name)
        assert "Signature=" in signed or "X-Amz-Signature=" in signed
        direct = requests.get(signed, headers={"Range": "bytes=0-99"}, timeout=WAIT)
        assert direct.status_code == 206 and direct.content == whole.content[:100]
        assert not (cluster.media_root / stored.file.name).exists()  # nothing in the local folder


def test_the_rate_limit_of_a_key_holds_across_both_replicas(cluster, key):
    allowed = [speak(cluster.nginx.url, key) for _ in range(RATE)]
    refused = [speak(cluster.nginx.url, key) for _ in range(2)]
    assert [response.status_code for response in allowed] == [200] * RATE
    assert {served_by(response) for response in allowed} == {"replica-a", "replica-b"}
    assert [response.status_code for response in refused] == [429, 429]
    assert {served_by(response) for response in refused} == {"replica-a", "replica-b"}
    assert all(response.json()["error"]["type"] == "rate_limit_error" for response in refused)
    assert all(int(response.headers["Retry-After"]) > 0 for response in refused)


def test_housekeeping_runs_in_the_replicas(cluster, key):
    """Expired sessions go, with their samples; a file without a row goes once it is old, not before; files with
    a row stay."""
    a, _ = cluster.replicas
    orphan, put_at = _put_orphan(cluster), time.monotonic()
    session_id = create_session(a.url, key).json()["session_id"]
    kept = create_session(a.url, key).json()["session_id"]
    sample, kept_sample = (StreamingSession.objects.get(pk=pk).voice_sample.name for pk in (session_id, kept))
    assert _exists(cluster, sample) and _exists(cluster, orphan)
    StreamingSession.objects.filter(pk=session_id).update(expires_at=timezone.now() - timedelta(seconds=1))
    deadline = time.monotonic() + ORPHAN_AGE + WAIT / 2
    while time.monotonic() < deadline and (
        StreamingSession.objects.filter(pk=session_id).exists() or _exists(cluster, orphan)
    ):
        time.sleep(0.5)
    assert not _exists(cluster, orphan)
    assert time.monotonic() - put_at >= ORPHAN_AGE - 1  # S3 keeps whole seconds
    assert not StreamingSession.objects.filter(pk=session_id).exists()
    assert not _exists(cluster, sample)
    assert StreamingSession.objects.filter(pk=kept).exists() and _exists(cluster, kept_sample)


@pytest.mark.parametrize("cluster", ["local"], indirect=True)  # once: where media is stored changes nothing here
def test_killing_a_replica_mid_stream_fails_only_its_streams(cluster, key):
    """Runs last: it leaves one replica. Two streams through nginx go one to each replica (least_conn); each is
    10 s of audio, which the tiny model takes seconds to make here, so both are mid-stream at the kill."""
    text = " ".join(["This sentence keeps the stream going for a while."] * 5)
    fields = {"input": text, "stream": True, "max_audio_length_ms": 10_000}
    streams = []
    for _ in range(2):
        body = {"model": "tts-1", "voice": "alloy", "response_format": "pcm", **fields}
        response = requests.post(
            f"{cluster.nginx.url}/v1/audio/speech", json=body, headers=auth(key), stream=True, timeout=WAIT
        )
        assert response.status_code == 200, response.text
        chunks = response.iter_content(4800)
        assert next(chunks)  # audio is flowing
        streams.append((response, chunks))
    assert {served_by(response) for response, _ in streams} == {"replica-a", "replica-b"}
    (doomed, doomed_chunks), (survivor, survivor_chunks) = streams
    victim = next(replica for replica in cluster.replicas if cluster.names[replica.port] == served_by(doomed))
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.wait(timeout=10)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        for _ in doomed_chunks:
            pass
    after_the_kill = sum(len(chunk) for chunk in survivor_chunks)  # goes on, and ends normally
    assert after_the_kill > 0
    after = [speak(cluster.nginx.url, key) for _ in range(2)]
    session = create_session(cluster.nginx.url, key)
    assert [response.status_code for response in after] == [200, 200]
    assert {served_by(response) for response in [*after, session]} == {served_by(survivor)}


def _put_orphan(cluster) -> str:
    """A media file no row refers to, written straight into the store."""
    name = f"clips/orphan-{uuid.uuid4().hex}.wav"
    if cluster.s3 is not None:
        cluster.s3.client().put_object(Bucket=cluster.s3.bucket, Key=name, Body=b"RIFF")
    else:
        path = cluster.media_root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"RIFF")
    return name


def _exists(cluster, name: str) -> bool:
    if cluster.s3 is not None:
        return cluster.s3.storage().exists(name)
    return (cluster.media_root / name).exists()
