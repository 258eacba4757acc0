"""How many streams (streamed responses, WebSockets) each key has open, bounded by CSM_MAX_STREAMS_PER_KEY.

Counted per server process: with several processes a key may hold that many streams in each of them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import AsyncIterator

from django.conf import settings

from speech.errors import TooManyStreams

from .models import ApiKey

_open: Counter[int] = Counter()
_lock = threading.Lock()


def open_stream(owner: ApiKey | None) -> None:
    """Counts a stream for `owner`; TooManyStreams (429) when it has the most it may have open already.
    Requests without a key are not counted (keys are optional only in development)."""
    if owner is None:
        return
    limit = settings.CSM_MAX_STREAMS_PER_KEY
    with _lock:
        if _open[owner.pk] >= limit:
            raise TooManyStreams(
                f"This API key has {limit} streams open already (CSM_MAX_STREAMS_PER_KEY); "
                "close one or try again when one ends."
            )
        _open[owner.pk] += 1


def close_stream(owner: ApiKey | None) -> None:
    if owner is None:
        return
    with _lock:
        _open[owner.pk] -= 1
        if _open[owner.pk] <= 0:
            del _open[owner.pk]


async def counted(owner: ApiKey | None, body: AsyncIterator) -> AsyncIterator:
    """`body`, counted as one of `owner`'s streams (already opened) until it ends or is closed."""
    try:
        async for item in body:
            yield item
    finally:
        close_stream(owner)
