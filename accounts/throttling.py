"""Per-key throttling of synthesis requests, counted in the configured cache (Redis when REDIS_URL is set)."""

from __future__ import annotations

import logging

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


class SynthesisRateThrottle(SimpleRateThrottle):
    """CSM_RATE_LIMIT (e.g. "60/min") per API key; per client address for requests without a key.

    An empty rate turns throttling off. A throttled request gets 429 with Retry-After.
    """

    scope = "synthesis"

    def allow_request(self, request, view) -> bool:
        """Fails open: when the cache that counts requests is down, the request is served (with a warning)."""
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache backend's own errors (Redis refused, timed out) have no common base
            logger.warning("Rate limit not applied: the cache is unavailable.", exc_info=True)
            return True

    def get_rate(self) -> str | None:
        return settings.CSM_RATE_LIMIT or None

    def get_cache_key(self, request, view) -> str:
        ident = f"key-{request.auth.pk}" if request.auth is not None else f"ip-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}
