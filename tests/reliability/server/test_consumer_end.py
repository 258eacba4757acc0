"""Issue 12, item 2: whatever ends a WebSocket consumer cancels its work: the queued text is dropped, the
engine request is cancelled and the session's previous segment stops changing."""

from __future__ import annotations

import contextlib
import os
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from streaming.models import StreamingSession
from tests.conftest import LiveServer, _database_url
from tests.keys import Client, new_key
from tests.reliability.server.conftest import PRODUCTION_ENV, needs_redis
from tests.reliability.server.redis_proxy import RedisProxy
from tests.reliability.server.test_websocket_redis import create_session
from tests.streaming.conftest import text_message, ws_url

FLOOD_CHUNKS = 50
CHUNK = ("Hello there, how are you today? " * 200)[:4096]  # about 130 sentences a chunk


def flood(ws) -> None:
    for _ in range(FLOOD_CHUNKS):
        ws.send(text_message(CHUNK))


def wait_until(condition, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def busy(server: LiveServer) -> bool:
    return server.health()["model"]["active_requests"] > 0


def previous_segment(session_id: str) -> tuple:
    session = StreamingSession.objects.get(pk=session_id)
    return session.previous_text, session.previous_codes


def idle(server: LiveServer) -> bool:
    model = server.health()["model"]
    return model["active_requests"] == 0 and model["waiting_requests"] == 0


def stays_idle(server: LiveServer, polls: int = 6) -> bool:
    for _ in range(polls):
        if not idle(server):
            return False
        time.sleep(0.5)
    return True


def assert_work_stopped(server: LiveServer, session_id: str) -> None:
    """The engine goes idle and stays so (segments follow one another with a short idle gap between them:
    idle must hold for a while), and the session's previous segment stops changing."""
    assert wait_until(lambda: stays_idle(server), timeout=60), "the engine is still generating"
    before = previous_segment(session_id)
    time.sleep(3)  # a segment of this session takes well under a second: one would have ended meanwhile
    assert previous_segment(session_id) == before, "the session's previous segment is still being updated"


def test_a_client_that_drops_the_connection_stops_its_generation(production_server, client):
    session_id = create_session(client)
    ws = connect(ws_url(production_server, session_id), additional_headers={"Authorization": f"Bearer {client.secret}"})
    flood(ws)
    assert wait_until(lambda: busy(production_server))
    with contextlib.suppress(OSError):  # no close handshake: the client is simply gone
        ws.socket.shutdown(socket.SHUT_RDWR)
    ws.socket.close()
    assert_work_stopped(production_server, session_id)


@pytest.fixture
def server_behind_a_redis_proxy(django_db_setup, django_db_blocker):
    from django.db import connection

    proxy = RedisProxy(os.environ["REDIS_URL"])
    env = {**PRODUCTION_ENV, "REDIS_URL": proxy.url}
    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env=env)
    yield server, proxy
    server.stop()
    proxy.close()


@needs_redis
@pytest.mark.django_db(transaction=True)
def test_a_consumer_killed_by_the_channel_layer_stops_its_generation(server_behind_a_redis_proxy):
    server, proxy = server_behind_a_redis_proxy
    with Client(server, new_key()) as client:
        session_id = create_session(client)
    url = ws_url(server, session_id)
    with connect(url, additional_headers={"Authorization": f"Bearer {client.secret}"}) as ws:
        flood(ws)
        assert wait_until(lambda: busy(server))
        proxy.cut()  # the consumer's channel layer receive fails: the consumer ends with an exception
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert_work_stopped(server, session_id)
