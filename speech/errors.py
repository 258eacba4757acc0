"""Errors a client can cause, each carrying its HTTP status and OpenAI error fields, and the one mapping of
an error to OpenAI's body: {"error": {"message", "type", "param", "code"}}.

The audio module, the pipeline and the apps' services raise these. `as_service_error` turns DRF's own
exceptions (validation, authentication, throttling) into one, so the HTTP error handler and the WebSocket
consumer answer every failure the same way.
"""

from __future__ import annotations

from django import db
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions

_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error"}


def error_body(message: str, *, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


class ServiceError(Exception):
    status = 400
    error_type = "invalid_request_error"
    code: str | None = None

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        if code is not None:
            self.code = code

    @property
    def headers(self) -> dict[str, str]:
        """HTTP headers the error response carries."""
        return {}

    @property
    def body(self) -> dict:
        return error_body(self.message, error_type=self.error_type, param=self.param, code=self.code)


class InvalidAudio(ServiceError):
    code = "invalid_audio"


class AudioTooLarge(ServiceError):
    status = 413
    code = "audio_too_large"


class RequestTooLarge(ServiceError):
    """A request body over the server's limits: refused before it is read (config.server), or by Django's own
    limit on what it parses (DATA_UPLOAD_MAX_MEMORY_SIZE)."""

    status = 413
    code = "request_too_large"


class RequestTimeout(ServiceError):
    """A request whose headers or body came too slowly (config.server)."""

    status = 408
    code = "request_timeout"


class NotFound(ServiceError):
    status = 404
    code = "not_found"


class Unauthorized(ServiceError):
    """No API key where one is required, or a key that is unknown or revoked."""

    status = 401
    code = "invalid_api_key"

    @property
    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class EngineUnavailable(ServiceError):
    """The model is not loaded (yet, or failed to load)."""

    status = 503
    error_type = "server_error"
    code = "model_not_loaded"


class EngineBusy(ServiceError):
    status = 503
    error_type = "server_error"
    code = "engine_busy"
    retry_after = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(ServiceError):
    """A dependency the request needs (the database, the cache) is down or does not answer in time."""

    status = 503
    error_type = "server_error"
    code = "service_unavailable"
    retry_after = 5

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class SigningUnavailable(ServiceUnavailable):
    """Content Credentials cannot be signed: the configured certificate or key is unusable, or the development
    certificate cannot be made or read."""

    code = "signing_unavailable"
    retry_after = 60


class SessionTextFull(ServiceError):
    """More text waiting to be spoken in a streaming session than CSM_MAX_SESSION_TEXT_CHARS."""

    status = 413
    code = "session_text_full"


class TooManyStreams(ServiceError):
    """A key has CSM_MAX_STREAMS_PER_KEY streams open already."""

    status = 429
    error_type = "rate_limit_error"
    code = "too_many_streams"
    retry_after = 1

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ConsentInUse(ServiceError):
    """A consent cannot be deleted while voices made with it exist."""

    code = "consent_in_use"


class NameTaken(ServiceError):
    """A voice name already used by the same owner, or by another shared voice (case ignored)."""

    code = "name_taken"


class ContextTooLong(ServiceError):
    """The voice context, its transcript and the text do not fit the model's context window."""

    code = "context_too_long"


class GenerationFailed(ServiceError):
    """Generation broke inside the engine (not something the client sent)."""

    status = 500
    error_type = "server_error"
    code = "generation_failed"


class _ApiError(ServiceError):
    """One of DRF's exceptions, as a ServiceError with its status, type, code and headers."""

    def __init__(self, message: str, *, status: int, error_type: str, param=None, code=None, headers=None) -> None:
        super().__init__(message, param=param, code=code)
        self.status = status
        self.error_type = error_type
        self._headers = headers or {}

    @property
    def headers(self) -> dict[str, str]:
        return self._headers


def as_service_error(error: Exception) -> ServiceError | None:
    """`error` as a ServiceError; None for anything that is not a client's error (a bug: a 500)."""
    if isinstance(error, ServiceError):
        return error
    if isinstance(error, db.OperationalError | db.InterfaceError):  # refused, timed out, or gone mid-request
        return ServiceUnavailable("The database is unavailable (refused, missing or too slow); try again later.")
    if isinstance(error, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return RequestTooLarge(f"The request body is larger than the limit of {limit:,} bytes ({limit / 2**20:g} MiB).")
    if isinstance(error, exceptions.ValidationError):
        param, message = _first_validation_error(error.detail)
        return _ApiError(message, status=400, error_type="invalid_request_error", param=param)
    if isinstance(error, exceptions.APIException):
        status = error.status_code
        headers = {"Retry-After": str(int(error.wait))} if getattr(error, "wait", None) else {}
        code = error.default_code if isinstance(error.default_code, str) else None
        error_type = _TYPES.get(status, "invalid_request_error")
        return _ApiError(str(error.detail), status=status, error_type=error_type, code=code, headers=headers)
    return None


def _first_validation_error(detail, path: str = "") -> tuple[str | None, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            return _first_validation_error(value, f"{path}.{name}" if path and name else (name or path))
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], path)
    message = str(detail)
    return (path or None), (f"{path}: {message}" if path else message)
