"""Signed, expiring URLs for stored clips, so a browser <audio> can play a clip that needs a key."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

_SALT = "csm-voice-api.audio-url"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=_SALT)


def sign_filename(filename: str) -> str:
    """The signature of `filename` (timestamp and MAC), for the `sig` query parameter."""
    return _signer().sign(filename).removeprefix(f"{filename}:")


def signature_valid(filename: str, signature: str | None) -> bool:
    """True when `signature` was made for `filename` less than CSM_AUDIO_URL_TTL seconds ago."""
    if not signature:
        return False
    try:
        _signer().unsign(f"{filename}:{signature}", max_age=settings.CSM_AUDIO_URL_TTL)
    except signing.BadSignature:  # SignatureExpired is a BadSignature
        return False
    return True


def audio_url(filename: str, *, signed: bool, suffix: str = "") -> str:
    """`/v1/audio/<filename><suffix>`, with `?sig=` (the signature of `filename`) when the clip needs a credential
    to be read; `suffix` ".c2pa" is its sidecar manifest, read with the clip's own signature."""
    path = f"/v1/audio/{filename}{suffix}"
    return f"{path}?{urlencode({'sig': sign_filename(filename)})}" if signed else path
