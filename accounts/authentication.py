"""DRF authentication by `Authorization: Bearer <key>`, and the permission that requires a key when configured.

Both are sync: adrf runs `initial()` (authentication, permissions, throttles) in a thread for async views too.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from speech.errors import Unauthorized

from . import selectors, services
from .models import ApiKey


def bearer_secret(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None when there is none."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def key_for_secret(secret: str | None) -> ApiKey | None:
    """The caller's key: None for no key; Unauthorized for a key that is unknown or revoked.

    With CSM_REQUIRE_API_KEY off, a token that is not one of ours (the placeholder key OpenAI clients insist
    on sending, e.g. `sk-local`) is treated as no key; a `csm-...` token that is unknown or revoked is
    always refused, since it is surely a mistake.
    """
    if secret is None:
        return None
    key = selectors.active_key(secret=secret)
    if key is None:
        if settings.CSM_REQUIRE_API_KEY or secret.startswith(services.SECRET_PREFIX):
            raise Unauthorized("Incorrect API key provided.")
        return None
    services.record_use(key=key)
    return key


def require_key(key: ApiKey | None) -> None:
    """Unauthorized when keys are required and the caller sent none."""
    if key is None and settings.CSM_REQUIRE_API_KEY:
        raise Unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.", code="missing_api_key"
        )


def check_caller(authorization: str | None) -> None:
    """Unauthorized unless a request with this `Authorization` header may be served: the rule of
    ApiKeyAuthentication and ApiKeyRequired together, for the HTTP server's check before it reads a body."""
    require_key(key_for_secret(bearer_secret(authorization)))


class ApiKeyAuthentication(BaseAuthentication):
    """Sets `request.auth` (and `request.user`) to the caller's ApiKey; both stay None without a key."""

    def authenticate(self, request) -> tuple[ApiKey, ApiKey] | None:
        key = key_for_secret(bearer_secret(request.headers.get("Authorization")))
        return None if key is None else (key, key)

    def authenticate_header(self, request) -> str:
        return "Bearer"


class ApiKeyRequired(BasePermission):
    """The default permission: a key is needed when CSM_REQUIRE_API_KEY is on."""

    def has_permission(self, request, view) -> bool:
        require_key(request.auth)
        return True
