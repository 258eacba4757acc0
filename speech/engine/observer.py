"""What the engine tells about its work, as plain facts: the hook metrics are built on (`speech.metrics`).

The engine calls its observer from its worker thread, between frames, so an observer must be quick and must
not raise (an exception there fails the requests of that frame). The base class ignores everything.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .worker import SpeechRequest


class EngineObserver:
    """Receives the engine's facts; override what you need."""

    def step(self, *, rows: int, seconds: float) -> None:
        """One batched frame of `rows` requests (generated, decoded where due, handed over) took `seconds`."""

    def first_audio(self, request: SpeechRequest, *, seconds: float) -> None:
        """A request's first audio was handed to its caller, `seconds` after the request was queued."""

    def audio(self, request: SpeechRequest, *, frames: int, seconds: float) -> None:
        """Audio of `frames` frames, `seconds` long, was handed to a request's caller."""

    def finished(self, request: SpeechRequest, *, seconds: float, cancelled: bool) -> None:
        """A request left the engine (done, cancelled or failed), `seconds` after its generation started."""

    def capped(self, request: SpeechRequest) -> None:
        """A request reached the engine's audio cap (`max_request_ms`): it ended there, with the audio made so far."""
