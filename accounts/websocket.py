"""Who is calling on a WebSocket: the key (a header, or a `bearer.<key>` subprotocol) and a browser's Origin.

Browsers cannot set headers on a WebSocket, so they offer the key as the subprotocol `bearer.<key>`; the
consumer must accept with the returned `subprotocol` or the browser drops the connection. A browser always
sends Origin, which must name one of ALLOWED_HOSTS; clients that send no Origin are judged by their key alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django.conf import settings
from django.http.request import validate_host

from speech.errors import Unauthorized

from .authentication import bearer_secret, key_for_secret, require_key
from .models import ApiKey

SUBPROTOCOL_PREFIX = "bearer."
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN_ORIGIN = 4403


class WebSocketRejected(Exception):
    """The connection must be closed with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class WebSocketCaller:
    key: ApiKey | None
    subprotocol: str | None  # to pass to accept(); None when the client offered no key subprotocol


def _headers(scope: dict) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def origin_allowed(origin: str | None) -> bool:
    """No Origin (not a browser) is allowed; otherwise its host must match ALLOWED_HOSTS."""
    if origin is None:
        return True
    host = urlsplit(origin).hostname
    if not host:
        return False
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    return validate_host(f"[{host}]" if ":" in host else host, allowed)


def _caller(scope: dict) -> WebSocketCaller:
    headers = _headers(scope)
    if not origin_allowed(headers.get("origin")):
        raise WebSocketRejected(CLOSE_FORBIDDEN_ORIGIN, "Origin not allowed.")
    subprotocol = next((p for p in scope.get("subprotocols", []) if p.startswith(SUBPROTOCOL_PREFIX)), None)
    secret = bearer_secret(headers.get("authorization"))
    if secret is None and subprotocol is not None:
        secret = subprotocol.removeprefix(SUBPROTOCOL_PREFIX) or None
    try:
        key = key_for_secret(secret)
        require_key(key)
    except Unauthorized as error:
        raise WebSocketRejected(CLOSE_UNAUTHORIZED, error.message) from None
    return WebSocketCaller(key=key, subprotocol=subprotocol)


async def authenticate_websocket(scope: dict) -> WebSocketCaller:
    """The caller of a WebSocket connection; WebSocketRejected (close code + reason) when it must be refused."""
    return await database_sync_to_async(_caller)(scope)
