"""What /health reports: the database, the cache, the channel layer, the model and the signing of Content
Credentials, each on its own (signing with a development certificate works, and says so in a `warning`).

The service can serve when every dependency answers and the model is ready. Each check is bounded in time
(the database by its connect and statement timeouts, the cache by its socket timeouts, the channel layer
here), so /health answers in seconds even when a dependency accepts connections and never replies.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.core.cache import cache
from django.db import connection

from speech.content_credentials import signing_status
from speech.runtime import engine_state

logger = logging.getLogger(__name__)

CHANNEL_LAYER_TIMEOUT = 3.0  # seconds
UP = {"status": "ok"}


async def health_report() -> tuple[bool, dict]:
    """(whether the service can serve, the report)."""
    checks = {
        "database": await sync_to_async(_database)(),
        "cache": await sync_to_async(_cache)(),
        "channel_layer": await _channel_layer(),
        "content_credentials": await sync_to_async(signing_status)(),
    }
    model = engine_state()
    serving = all(check["status"] == "ok" for check in checks.values()) and model["status"] == "ready"
    return serving, {**checks, "model": model}


def _down(what: str, error: BaseException) -> dict:
    logger.warning("Health: %s unavailable: %s", what, error)
    return {"status": "unavailable", "error": f"{type(error).__name__}: {error}".strip()[:300]}


def _database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error: refused, missing database, timed out
        connection.close_if_unusable_or_obsolete()
        return _down("database", error)
    return UP


def _cache() -> dict:
    try:
        cache.set("health", "ok", timeout=10)
        if cache.get("health") != "ok":
            raise RuntimeError("a value written was not read back")
    except Exception as error:  # the backend's own errors (Redis refused, timed out)
        return _down("cache", error)
    return UP


async def _channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        return {"status": "unavailable", "error": "No channel layer is configured."}
    try:
        async with asyncio.timeout(CHANNEL_LAYER_TIMEOUT):
            # A plain channel, not a process-local one (new_channel): its receive reads it directly instead of
            # waiting its turn in the receive loop every open WebSocket of this process shares.
            channel = f"health.{uuid.uuid4().hex}"
            await layer.send(channel, {"type": "health.check"})
            await layer.receive(channel)
    except Exception as error:  # TimeoutError, or the layer's connection errors
        return _down("channel layer", error)
    return UP
