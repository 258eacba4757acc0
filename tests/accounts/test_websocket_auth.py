"""Who may open a WebSocket: the key from a header or a `bearer.<key>` subprotocol, and a browser's Origin."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from accounts.websocket import (
    CLOSE_FORBIDDEN_ORIGIN,
    CLOSE_UNAUTHORIZED,
    WebSocketRejected,
    authenticate_websocket,
    origin_allowed,
)
from tests.keys import new_key

pytestmark = pytest.mark.django_db(transaction=True)  # the lookup runs in another thread


def _scope(*, authorization: str | None = None, origin: str | None = None, subprotocols=()) -> dict:
    headers = [(b"host", b"localhost:8000")]
    if authorization is not None:
        headers.append((b"authorization", authorization.encode()))
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return {"type": "websocket", "headers": headers, "subprotocols": list(subprotocols)}


def _caller(**kwargs):
    return async_to_sync(authenticate_websocket)(_scope(**kwargs))


def _rejected(**kwargs) -> WebSocketRejected:
    with pytest.raises(WebSocketRejected) as rejected:
        _caller(**kwargs)
    return rejected.value


def test_key_from_the_authorization_header():
    secret = new_key("header")
    caller = _caller(authorization=f"Bearer {secret}")
    assert caller.key.name == "header" and caller.subprotocol is None


def test_key_from_a_bearer_subprotocol_which_is_echoed_back():
    secret = new_key("browser")
    caller = _caller(subprotocols=["chat", f"bearer.{secret}"], origin="http://localhost:3000")
    assert caller.key.name == "browser"
    assert caller.subprotocol == f"bearer.{secret}"


def test_bad_keys_are_4401_however_they_come():
    assert _rejected(authorization="Bearer csm-nope").code == CLOSE_UNAUTHORIZED
    assert _rejected(subprotocols=["bearer.csm-nope"]).code == CLOSE_UNAUTHORIZED


def test_missing_key_is_4401_only_when_keys_are_required(settings):
    settings.CSM_REQUIRE_API_KEY = False
    assert _caller().key is None
    assert _caller(authorization="Bearer sk-placeholder").key is None
    settings.CSM_REQUIRE_API_KEY = True
    rejected = _rejected()
    assert rejected.code == CLOSE_UNAUTHORIZED and "API key" in rejected.reason
    assert _rejected(subprotocols=["bearer."]).code == CLOSE_UNAUTHORIZED


def test_a_foreign_origin_is_4403_even_with_a_good_key(settings):
    settings.ALLOWED_HOSTS = ["api.example.com"]
    secret = new_key()
    assert _caller(authorization=f"Bearer {secret}", origin="https://api.example.com").key is not None
    rejected = _rejected(authorization=f"Bearer {secret}", origin="https://evil.example.net")
    assert rejected.code == CLOSE_FORBIDDEN_ORIGIN
    assert _caller(authorization=f"Bearer {secret}").key is not None  # no Origin: not a browser


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        (None, True),
        ("http://localhost:3000", True),
        ("https://app.example.com", True),
        ("https://example.com", True),
        ("https://example.com.evil.net", False),
        ("http://127.0.0.1:8000", False),
        ("null", False),
        ("", False),
    ],
)
def test_origin_against_allowed_hosts(settings, origin, allowed):
    settings.ALLOWED_HOSTS = ["localhost", ".example.com"]
    assert origin_allowed(origin) is allowed
