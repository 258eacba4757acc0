"""The one HTTP error handler: every error in OpenAI's body (the mapping itself is `speech.errors`)."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.response import Response

from speech.errors import as_service_error, error_body
from speech.metrics import count_refusal


def exception_handler(exc: Exception, context: dict) -> Response | None:
    error = as_service_error(exc)
    if error is None:
        return None
    count_refusal(error)
    return Response(error.body, status=error.status, headers=error.headers or None)


def bad_request(request, exception=None) -> JsonResponse:
    error = as_service_error(exception) if isinstance(exception, Exception) else None
    if error is not None:  # e.g. a body over the limit, met outside DRF: 413
        count_refusal(error)
        return JsonResponse(error.body, status=error.status, headers=error.headers or None)
    message = str(exception) if exception else "Bad request."
    return JsonResponse(error_body(message, error_type="invalid_request_error"), status=400)


@csrf_exempt  # also routed for unknown /v1/ paths: a POST or DELETE there is a 404, not a CSRF failure
def not_found(request, exception=None) -> JsonResponse:
    return JsonResponse(error_body("Not found.", error_type="invalid_request_error", code="not_found"), status=404)


def server_error(request) -> JsonResponse:
    return JsonResponse(error_body("Internal server error.", error_type="server_error"), status=500)
