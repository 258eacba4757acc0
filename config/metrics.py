"""`GET /metrics`: this process's metrics in Prometheus' text format (`speech.metrics`, django-prometheus's HTTP
and database metrics, the process's own). Open, unless CSM_METRICS_KEY is set: then only for
`Authorization: Bearer <that key>`, and 401 in the API's error shape otherwise. The format is the classic text
format (0.0.4), which every Prometheus version reads."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, generate_latest

from accounts.authentication import bearer_secret
from speech.errors import Unauthorized


def metrics(request: HttpRequest) -> HttpResponse:
    key = settings.CSM_METRICS_KEY
    if key:
        secret = bearer_secret(request.headers.get("Authorization")) or ""
        if not hmac.compare_digest(secret.encode(), key.encode()):
            error = Unauthorized(
                "/metrics needs 'Authorization: Bearer <CSM_METRICS_KEY>'.", code="invalid_metrics_key"
            )
            return JsonResponse(error.body, status=error.status, headers=error.headers)
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)
