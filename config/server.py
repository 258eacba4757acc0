"""The HTTP server: Daphne, guarded so that what a request may send is bounded before the application sees it.

Run it as Daphne, with Daphne's options: `python -m config.server -b 0.0.0.0 -p 8000 config.asgi:application`.

Daphne reads requests through Twisted, which takes in a whole body before the application is called (into
memory, or a temporary file from 100 kB on), parses a multipart body itself in the reactor thread (answering
a malformed one with a bare 400 and no body), and Daphne then queues the whole body to the application in
8 KiB pieces. A 200 MB upload grew the process by 2.4 GB and stalled every other request for seconds. The
application cannot refuse what it is not shown until then, so the limits sit in Twisted's protocol, where
the headers arrive:

- A body over the limit (a declared Content-Length, or a chunked body's bytes as they come) gets 413 in
  OpenAI's error shape and is not read: the answer is sent, what the client still sends is dropped unread
  for LINGER_SECONDS (a client still sending would otherwise get a reset and never see the answer), then the
  connection is closed. Multipart bodies may hold the 10 MiB sample and 1 MiB more; others
  DATA_UPLOAD_MAX_MEMORY_SIZE (base64 samples in JSON).
- A body sent to /v1/ gets 401 unless its Authorization header passes the API's key rule
  (`accounts.authentication.check_caller`); reading waits while the key is looked up.
- Twisted's multipart parsing is off: Django parses the body once, with our error shape for malformed ones.
- The request line and headers must arrive within CSM_HEADER_TIMEOUT seconds of the connection (or of the
  previous response on a kept-alive one), the body within CSM_BODY_TIMEOUT seconds of the headers;
  otherwise 408, and the connection is closed. Responses, streamed or not, are not bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from http import HTTPStatus

from daphne.cli import CommandLineInterface  # first: it installs Twisted's asyncio reactor
from daphne.http_protocol import HTTPFactory, WebRequest
from daphne.server import Server
from twisted.web import http

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
import django  # noqa: E402

django.setup()

from channels.db import database_sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402

from accounts.authentication import check_caller  # noqa: E402
from speech.audio import MAX_SAMPLE_BYTES  # noqa: E402
from speech.errors import RequestTimeout, RequestTooLarge, ServiceError  # noqa: E402
from speech.metrics import count_refusal  # noqa: E402

logger = logging.getLogger(__name__)

LINGER_SECONDS = 5
MULTIPART_ALLOWANCE = 1024 * 1024  # a multipart form's other fields and framing, beyond its audio file
MiB = 1024 * 1024


def body_limit(content_type: bytes | None) -> int:
    """The largest body a request with this Content-Type may send."""
    if content_type and content_type.split(b";")[0].strip().lower() == b"multipart/form-data":
        return MAX_SAMPLE_BYTES + MULTIPART_ALLOWANCE
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def too_large(limit: int, size: int | None = None) -> RequestTooLarge:
    """The refusal of a body over `limit` bytes (`size`: its declared length, when it has one)."""
    declared = f" ({size / MiB:.2f} MiB)" if size is not None else ""
    return RequestTooLarge(f"The request body{declared} is larger than this request's limit, {limit / MiB:g} MiB.")


class GuardedRequest(WebRequest):
    """Daphne's request without Twisted's multipart parsing, counting the body's bytes against its limit."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, parsePOSTFormSubmission=False, **kwargs)
        self.body_limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        self.body_received = 0

    def handleContentChunk(self, data: bytes) -> None:
        self.body_received += len(data)
        if self.body_received > self.body_limit:
            self.channel.refuse(too_large(self.body_limit))
            return
        super().handleContentChunk(data)


class GuardedChannel(http.HTTPChannel):
    """One HTTP connection: the limits of the module's docstring, checked as the request arrives."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False
        self.deadline = None  # the pending IDelayedCall of the header or body timeout
        self.closing = None  # the IDelayedCall that ends a refused connection's lingering
        self.key_check: asyncio.Future | None = None
        self.body_waiting = False  # the body arrived while the key was being checked
        self.idle = True  # no byte of a next request yet: a timeout then closes an idle connection

    # ---- Twisted's steps ----------------------------------------------------------------------------
    def connectionMade(self) -> None:
        super().connectionMade()
        self._expect("headers", settings.CSM_HEADER_TIMEOUT)

    def dataReceived(self, data: bytes) -> None:
        self.idle = self.idle and not data
        if not self.refused:
            super().dataReceived(data)

    def rawDataReceived(self, data: bytes) -> None:
        if not self.refused:
            super().rawDataReceived(data)

    def allHeadersReceived(self) -> None:
        request = self.requests[-1]
        request.body_limit = body_limit(request.requestHeaders.getRawHeaders(b"content-type", [None])[0])
        if self.length is not None and self.length > request.body_limit:
            self.refuse(too_large(request.body_limit, self.length))
            return
        super().allHeadersReceived()
        if self.length == 0:
            self._expect(None)
            return
        self._expect("body", settings.CSM_BODY_TIMEOUT)
        if self._path.startswith(b"/v1/"):
            self._check_key(request.requestHeaders.getRawHeaders(b"authorization", [None])[0])

    def allContentReceived(self) -> None:
        self._expect(None)
        if self.key_check is not None:
            self.body_waiting = True  # handed on once the key has passed
            return
        super().allContentReceived()

    def requestDone(self, request) -> None:
        super().requestDone(request)
        self.idle = True
        if self.persistent and self.transport is not None and not self.transport.disconnecting:
            self._expect("headers", settings.CSM_HEADER_TIMEOUT)

    def connectionLost(self, reason) -> None:
        self._expect(None)
        if self.closing is not None and self.closing.active():
            self.closing.cancel()
        if self.key_check is not None:
            self.key_check.cancel()
        super().connectionLost(reason)

    # ---- refusing -----------------------------------------------------------------------------------
    def refuse(self, error: ServiceError, *, counted: bool = True) -> None:
        """Answers `error` at once and reads nothing more of the request (see the module's docstring). `counted`:
        in the refusals' metric (not the close of a connection that was idle)."""
        if self.refused or self.transport is None:
            return
        self.refused = True
        if counted:
            count_refusal(error)
        self._expect(None)
        if self.key_check is not None:
            self.key_check.cancel()
        body = json.dumps(error.body).encode()
        status = HTTPStatus(error.status)
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **error.headers,
        }
        head = f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
        self.transport.write(head.encode("latin-1") + body)
        self.transport.loseWriteConnection()
        self.transport.resumeProducing()  # paused for a key check: go on reading, to drop what comes
        self.closing = self.callLater(LINGER_SECONDS, self.transport.abortConnection)

    def _expect(self, what: str | None, seconds: float = 0) -> None:
        """Starts the timeout for the request's `what` (headers or body); None ends it."""
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        self.deadline = self.callLater(seconds, self._too_slow, what, seconds) if what and seconds else None

    def _too_slow(self, what: str, seconds: float) -> None:
        self.deadline = None
        error = RequestTimeout(f"The request's {what} did not arrive within {seconds:g} seconds.")
        self.refuse(error, counted=not (what == "headers" and self.idle))

    # ---- the caller's key ---------------------------------------------------------------------------
    def _check_key(self, authorization: bytes | None) -> None:
        """Pauses reading and looks the key up; the body is read on only if it passes."""
        self.transport.pauseProducing()
        header = authorization.decode("latin-1") if authorization is not None else None
        self.key_check = asyncio.ensure_future(database_sync_to_async(check_caller)(header))
        self.key_check.add_done_callback(self._key_checked)

    def _key_checked(self, check: asyncio.Future) -> None:
        self.key_check = None
        if check.cancelled() or self.refused or self.transport is None:
            return
        error = check.exception()
        if isinstance(error, ServiceError):
            self.refuse(error)
            return
        if error is not None:  # the database failing, say: the application answers as it would without this
            logger.warning("The key check before reading a body failed", exc_info=error)
        self.transport.resumeProducing()
        if self.body_waiting:
            self.body_waiting = False
            super().allContentReceived()


class GuardedHTTPFactory(HTTPFactory):
    def protocol(self) -> GuardedChannel:  # Twisted's factory makes each connection's protocol with this
        return GuardedChannel()

    def buildProtocol(self, addr):
        protocol = super().buildProtocol(addr)
        protocol.requestFactory = GuardedRequest
        return protocol


class GuardedServer(Server):
    """Daphne's server with the guarded HTTP protocol. Daphne's `run` builds its factory inline
    (`self.http_factory = HTTPFactory(self)`); this property puts ours in its place."""

    @property
    def http_factory(self) -> GuardedHTTPFactory:
        return self._http_factory

    @http_factory.setter
    def http_factory(self, daphnes: HTTPFactory) -> None:
        self._http_factory = GuardedHTTPFactory(self)


class CommandLine(CommandLineInterface):
    server_class = GuardedServer


if __name__ == "__main__":
    CommandLine.entrypoint()
