"""Reads for API keys, and the one rule for what a caller owns."""

from __future__ import annotations

from django.conf import settings
from django.db.models import Q

from .models import ApiKey
from .services import hash_secret


def active_key(*, secret: str) -> ApiKey | None:
    """The active key with this secret, or None."""
    return ApiKey.objects.filter(hashed_secret=hash_secret(secret), active=True).first()


def owned_by(owner: ApiKey | None, *, field: str = "owner") -> Q:
    """A filter for the objects `owner` owns.

    A key owns what was made with it. Without a key (local development, CSM_REQUIRE_API_KEY off) the caller
    owns what was made without one; when keys are required, a caller without a key owns nothing.
    """
    if owner is not None:
        return Q(**{field: owner})
    if settings.CSM_REQUIRE_API_KEY:
        return Q(pk__in=[])
    return Q(**{f"{field}__isnull": True})
