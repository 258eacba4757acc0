"""WebSocket /v1/ws/stream-text/{session_id}: text in as it is written, audio out.

Client messages are JSON text: `{"text_chunk": str, "is_final": bool}`, or `{"type": "cancel"}`.

- Default mode (the seed's client: send a chunk, read one message): exactly one binary message per text
  message, one self-contained file in the session's format with the audio of the segments it completed
  (a file with no samples when it completed none; everything left on `is_final`).
- `?mode=stream`: audio leaves as it is generated, one continuous stream in the session's format per
  utterance (from the first segment to the final text), with JSON events `segment.started`,
  `segment.done`, `audio.done` (after the final text, and after a cancel with `"cancelled": true`).

Errors are `{"type": "error", "error": {...}}` messages and leave the socket open; an unknown or expired
session is closed with 4404 (after an error message that says why: Daphne does not send close reasons).
The receive loop only parses messages and buffers text; one task per connection speaks the queued
segments, so a cancel is read while audio is being generated.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

import numpy as np
from channels.generic.websocket import AsyncWebsocketConsumer
from rest_framework import exceptions

from accounts.streams import close_stream, open_stream
from accounts.websocket import WebSocketRejected, authenticate_websocket
from speech import audio, metrics, pipeline
from speech.errors import NotFound, ServiceError, SessionTextFull, TooManyStreams, as_service_error, error_body

from . import services
from .models import StreamingSession
from .serializers import TextChunkSerializer
from .services import SessionNotFound

logger = logging.getLogger(__name__)

CLOSE_NOT_FOUND = 4404
CLOSE_TOO_MANY_STREAMS = 4429
CLOSE_BAD_REQUEST = 4400
MODES = ("file", "stream")


@dataclass
class _Text:
    """A text message's segments to speak (possibly none), in the order the messages came."""

    segments: list[str]
    is_final: bool


@dataclass
class _Cancel:
    """A cancel, after the queue was emptied; `dropped` text messages were removed from it unanswered."""

    dropped: int


class InvalidMessage(ServiceError):
    code = "invalid_message"


class _FileWriter:
    """The default mode: exactly one binary message per text message, a file of the audio it completed."""

    def __init__(self, session: StreamingSession, send_bytes: Callable[[bytes], Awaitable[None]]) -> None:
        self.session = session
        self.send_bytes = send_bytes

    async def speak(self, job: _Text) -> None:
        pcm = await services.synthesize_segments(self.session, job.segments)
        await self.send_bytes(await services.encode_file(pcm, self.session.output_format))

    async def interrupted(self, job: _Text) -> None:
        await self._send_empty()  # the interrupted message's answer

    async def failed(self, job: _Text) -> None:
        await self._send_empty()  # still one answer per message

    async def cancelled(self, dropped: int) -> None:
        for _ in range(dropped):
            await self._send_empty()

    async def _send_empty(self) -> None:
        empty = np.zeros(0, dtype=np.float32)
        await self.send_bytes(await services.encode_file(empty, self.session.output_format))


class _StreamWriter:
    """`?mode=stream`: audio as it is generated, one continuous stream per utterance, with JSON events."""

    def __init__(
        self,
        session: StreamingSession,
        send_bytes: Callable[[bytes], Awaitable[None]],
        send_json: Callable[[dict], Awaitable[None]],
    ) -> None:
        self.session = session
        self.send_bytes = send_bytes
        self.send_json = send_json
        self.encoder: audio.StreamEncoder | None = None

    async def speak(self, job: _Text) -> None:
        for text in job.segments:
            await self.send_json({"type": "segment.started", "text": text})
            samples = 0
            async for pcm in services.speak_segment(self.session, text):
                samples += pcm.size
                data = self._encoder().write(pcm)
                if data:
                    await self.send_bytes(data)
            await self.send_json({"type": "segment.done", "duration_seconds": round(samples / audio.SAMPLE_RATE, 3)})
        if job.is_final:
            await self._end_utterance()

    async def interrupted(self, job: _Text) -> None:
        """Nothing to say: the cancel that interrupted it ends the utterance."""

    async def failed(self, job: _Text) -> None:
        if job.is_final:
            await self._end_utterance()

    async def cancelled(self, dropped: int) -> None:
        await self._end_utterance(cancelled=True)

    def _encoder(self) -> audio.StreamEncoder:
        if self.encoder is None:
            self.encoder = audio.StreamEncoder(self.session.output_format, metadata=pipeline.provenance())
        return self.encoder

    async def _end_utterance(self, *, cancelled: bool = False) -> None:
        """Ends the utterance's audio stream (its encoder's last bytes), then says so."""
        if self.encoder is not None:
            tail = self.encoder.close()
            self.encoder = None
            if tail:
                await self.send_bytes(tail)
        await self.send_json({"type": "audio.done", **({"cancelled": True} if cancelled else {})})


class StreamTextConsumer(AsyncWebsocketConsumer):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.session = None
        self.counted = False  # one of the key's open streams (CSM_MAX_STREAMS_PER_KEY)
        self.waiting_chars = 0  # text queued and not yet spoken (CSM_MAX_SESSION_TEXT_CHARS)
        self.worker: asyncio.Task | None = None
        self.job: asyncio.Task | None = None
        self.jobs: asyncio.Queue[_Text | _Cancel] = asyncio.Queue()

    async def __call__(self, scope, receive, send) -> None:
        """Whatever ends the consumer ends its work: the client leaving or a close (`disconnect`), and also
        what skips `disconnect`: an exception in the consumer, the channel layer failing, Daphne cancelling
        the application."""
        metrics.WEBSOCKETS.inc()
        try:
            await super().__call__(scope, receive, send)
        finally:
            metrics.WEBSOCKETS.dec()
            self._stop_work()

    async def connect(self) -> None:
        try:
            caller = await authenticate_websocket(self.scope)
        except WebSocketRejected as rejected:
            await self.accept()
            await self._refuse(rejected.code, exceptions.NotAuthenticated(rejected.reason))
            return
        self.owner = caller.key
        await self.accept(caller.subprotocol)
        mode = parse_qs(self.scope.get("query_string", b"").decode()).get("mode", ["file"])[-1]
        if mode not in MODES:
            await self._refuse(CLOSE_BAD_REQUEST, InvalidMessage(f"Unknown mode {mode!r}; use mode=stream or none."))
            return
        try:
            self.session = await services.aget_session(
                self.scope["url_route"]["kwargs"]["session_id"], owner=self.owner
            )
        except SessionNotFound as error:
            await self._refuse(CLOSE_NOT_FOUND, error)
            return
        try:
            open_stream(self.owner)
        except TooManyStreams as error:
            self.session = None
            await self._refuse(CLOSE_TOO_MANY_STREAMS, error)
            return
        self.counted = True
        if mode == "stream":
            self.writer = _StreamWriter(self.session, self._send_bytes, self._send_json)
        else:
            self.writer = _FileWriter(self.session, self._send_bytes)
        self.worker = asyncio.create_task(self._work())

    async def disconnect(self, code: int) -> None:
        self._stop_work()

    def _stop_work(self) -> None:
        """Drops the queued text and cancels the speaking task and the segment in progress (which cancels
        its engine request; a cancelled segment never becomes the session's previous segment)."""
        while not self.jobs.empty():
            self.jobs.get_nowait()
        for task in (self.job, self.worker):
            if task is not None:
                task.cancel()
        if self.counted:
            self.counted = False
            close_stream(self.owner)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.session is None:
            return
        try:
            message = _parse(text_data)
        except (ServiceError, exceptions.ValidationError) as error:
            await self._send_error(error)
            return
        if message is None:
            await self._cancel()
            return
        try:
            chunk, is_final = message["text_chunk"], message["is_final"]
            services.check_text_room(waiting=self.waiting_chars, chunk=chunk)
            _, segments = await services.afeed_text(self.session.pk, chunk, is_final=is_final, owner=self.owner)
        except SessionTextFull as error:
            await self._send_error(error)  # the chunk is dropped; the connection stays
            return
        except SessionNotFound as error:
            await self._refuse(CLOSE_NOT_FOUND, error)
            return
        self.waiting_chars += sum(map(len, segments))
        self.jobs.put_nowait(_Text(segments, is_final))

    async def _cancel(self) -> None:
        """Drops the queued text (and the session's buffered text) and stops the segment being spoken."""
        metrics.CANCELS.inc()
        dropped = 0
        while not self.jobs.empty():
            job = self.jobs.get_nowait()
            dropped += 1 if isinstance(job, _Text) else job.dropped
            if isinstance(job, _Text):
                self.waiting_chars -= sum(map(len, job.segments))
        if self.job is not None:
            self.job.cancel()
        await services.discard_text(self.session.pk)
        self.jobs.put_nowait(_Cancel(dropped))

    # ---- the connection's speaking task ----------------------------------------------------------
    async def _work(self) -> None:
        while True:
            job = await self.jobs.get()
            if isinstance(job, _Cancel):
                await self.writer.cancelled(job.dropped)
                continue
            self.job = asyncio.create_task(self.writer.speak(job))
            await asyncio.wait({self.job})  # unlike awaiting it, a cancel of the job does not end this loop
            task, self.job = self.job, None
            self.waiting_chars -= sum(map(len, job.segments))
            if task.cancelled():
                await self.writer.interrupted(job)
            elif task.exception() is not None:
                await self._send_error(task.exception())
                await self.writer.failed(job)

    # ---- messages ---------------------------------------------------------------------------------
    async def _send_json(self, event: dict) -> None:
        await self.send(text_data=json.dumps(event))

    async def _send_bytes(self, data: bytes) -> None:
        await self.send(bytes_data=data)

    async def _send_error(self, error: BaseException) -> None:
        client_error = as_service_error(error) if isinstance(error, Exception) else None
        if client_error is None:
            logger.error("Streaming failed", exc_info=error)
            body = error_body(f"Generation failed: {error}", error_type="server_error")
        else:
            metrics.count_refusal(client_error)
            body = client_error.body
        await self._send_json({"type": "error", **body})

    async def _refuse(self, code: int, error: Exception) -> None:
        """Says why in an error message, then closes with `code`."""
        await self._send_error(error)
        await self.close(code=code, reason=str(getattr(error, "message", None) or error)[:120])


def _parse(text_data: str | None) -> dict | None:
    """A text message as {"text_chunk", "is_final"}, or None for a cancel."""
    if text_data is None:
        raise InvalidMessage('Send JSON text messages: {"text_chunk": "...", "is_final": false}.')
    try:
        message = json.loads(text_data)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to parse
        raise InvalidMessage("The message is not valid JSON.") from None
    if not isinstance(message, dict):
        raise InvalidMessage('The message must be a JSON object: {"text_chunk": "...", "is_final": false}.')
    kind = message.get("type")
    if kind == "cancel":
        return None
    if kind not in (None, "text"):
        raise InvalidMessage(f"Unknown message type {kind!r}.", param="type")
    serializer = TextChunkSerializer(data=message)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """A WebSocket to a path we do not serve: says so, then closes with 4404."""

    async def connect(self) -> None:
        await self.accept()
        path = self.scope.get("path", "")
        await self.send(text_data=json.dumps({"type": "error", **NotFound(f"No WebSocket at {path!r}.").body}))
        await self.close(code=CLOSE_NOT_FOUND)
