"""Writes for API keys."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.utils import timezone

from .models import ApiKey

SECRET_PREFIX = "csm-"
DISPLAY_PREFIX_LENGTH = 12
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def set_secret(*, key: ApiKey) -> str:
    """Gives `key` a fresh secret (not saved) and returns it: the only time the secret is seen."""
    secret = new_secret()
    key.prefix = secret[:DISPLAY_PREFIX_LENGTH]
    key.hashed_secret = hash_secret(secret)
    return secret


def create_api_key(*, name: str) -> tuple[ApiKey, str]:
    """A new active key and its secret."""
    key = ApiKey(name=name)
    secret = set_secret(key=key)
    key.save()
    return key, secret


def record_use(*, key: ApiKey) -> None:
    """Updates `last_used_at`, at most once a minute per key (one conditional UPDATE)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
