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


class CountedBody:
    """A response body counted as one of `owner`'s open streams (already opened) until it ends, fails, is closed,
    or is dropped unread (a client gone before its response started)."""

    def __init__(self, owner: ApiKey | None, body: AsyncIterator) -> None:
        self.owner = owner
        self.body = body
        self.counted = True

    def __aiter__(self) -> CountedBody:
        return self

    async def __anext__(self):
        try:
            return await anext(self.body)
        except BaseException:  # the end (StopAsyncIteration), an error, or a cancellation
            self.release()
            raise

    async def aclose(self) -> None:
        self.release()
        await self.body.aclose()

    def release(self) -> None:
        if self.counted:
            self.counted = False
            close_stream(self.owner)

    def __del__(self) -> None:
        self.release()
