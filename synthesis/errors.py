"""Errors a client can cause, each carrying its HTTP status and OpenAI error fields.

Plain Python (no Django): the engine, the audio module and services raise these;
one DRF exception handler maps them to the OpenAI error body.
"""


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


class InvalidAudio(ServiceError):
    code = "invalid_audio"


class AudioTooLarge(ServiceError):
    status = 413
    code = "audio_too_large"


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


class ConsentInUse(ServiceError):
    """A consent cannot be deleted while voices made with it exist."""

    code = "consent_in_use"


class PromptTooLong(ServiceError):
    """The voice context, its transcript and the text do not fit the model's context window."""

    code = "context_too_long"


class GenerationFailed(ServiceError):
    """Generation broke inside the engine (not something the client sent)."""

    status = 500
    error_type = "server_error"
    code = "generation_failed"
