"""Per-key throttling of synthesis requests, counted in the configured cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SynthesisRateThrottle(SimpleRateThrottle):
    """CSM_RATE_LIMIT (e.g. "60/min") per API key; per client address for requests without a key.

    An empty rate turns throttling off. A throttled request gets 429 with Retry-After.
    """

    scope = "synthesis"

    def get_rate(self) -> str | None:
        return settings.CSM_RATE_LIMIT or None

    def get_cache_key(self, request, view) -> str:
        ident = f"key-{request.auth.pk}" if request.auth is not None else f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
