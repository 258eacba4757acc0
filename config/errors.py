"""The one mapping from errors to OpenAI's error body: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response

from synthesis.errors import ServiceError

_TYPES = {401: "authentication_error", 403: "permission_error", 404: "invalid_request_error", 429: "rate_limit_error"}


def error_body(message: str, *, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def service_error_response(error: ServiceError) -> Response:
    body = error_body(error.message, error_type=error.error_type, param=error.param, code=error.code)
    return Response(body, status=error.status, headers=error.headers or None)


def _first_validation_error(detail, path: str = "") -> tuple[str | None, str]:
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = key if key != "non_field_errors" else ""
            return _first_validation_error(value, f"{path}.{name}" if path and name else (name or path))
    if isinstance(detail, list) and detail:
        return _first_validation_error(detail[0], path)
    message = str(detail)
    return (path or None), (f"{path}: {message}" if path else message)


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, ServiceError):
        return service_error_response(exc)
    if isinstance(exc, exceptions.ValidationError):
        param, message = _first_validation_error(exc.detail)
        return Response(error_body(message, error_type="invalid_request_error", param=param), status=400)
    if isinstance(exc, exceptions.APIException):
        status = exc.status_code
        headers = {}
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))
        code = exc.default_code if isinstance(exc.default_code, str) else None
        body = error_body(str(exc.detail), error_type=_TYPES.get(status, "invalid_request_error"), code=code)
        return Response(body, status=status, headers=headers)
    return None


def bad_request(request, exception=None) -> JsonResponse:
    message = str(exception) if exception else "Bad request."
    return JsonResponse(error_body(message, error_type="invalid_request_error"), status=400)


def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("Not found.", error_type="invalid_request_error", code="not_found"), status=404)


def server_error(request) -> JsonResponse:
    return JsonResponse(error_body("Internal server error.", error_type="server_error"), status=500)
