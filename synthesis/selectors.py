"""Reads for the speech APIs."""

from __future__ import annotations

import re

from django.conf import settings

from accounts.authentication import require_key
from accounts.models import ApiKey
from accounts.selectors import owned_by
from speech.errors import NotFound, Unauthorized

from .models import Clip
from .signing import audio_url, signature_valid

_FILENAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{2,4}$")


def clip_by_filename(filename: str) -> Clip:
    """The clip stored under `filename`; NotFound for unknown names and anything that looks like a path."""
    if not _FILENAME.match(filename):
        raise NotFound("Audio file not found.")
    clip = Clip.objects.filter(file=f"clips/{filename}").first()
    if clip is None:
        raise NotFound("Audio file not found.")
    return clip


def clip_for_download(*, filename: str, owner: ApiKey | None, signature: str | None) -> Clip:
    """The clip a request may read: any clip with a valid unexpired signature for its name, else one of the
    caller's own (Unauthorized for an invalid or expired signature without a key, and when keys are required and
    none was sent; NotFound for other owners' clips)."""
    if signature_valid(filename, signature):
        return clip_by_filename(filename)
    if signature and owner is None:
        clip = clip_by_filename(filename)
        if clip.owner_id is None and not settings.CSM_REQUIRE_API_KEY:
            return clip  # readable by anyone: the signature was not needed
        raise Unauthorized(
            "The audio URL's signature is invalid or has expired; ask for a new URL or send your API key.",
            code="invalid_signature",
        )
    require_key(owner)
    clip = clip_by_filename(filename)
    if not Clip.objects.filter(owned_by(owner), pk=clip.pk).exists():
        raise NotFound("Audio file not found.")
    return clip


def clip_url(clip: Clip) -> str:
    """The URL handed out for a clip: signed when reading it needs a key (it has an owner, or keys are required)."""
    return audio_url(clip.filename, signed=_needs_signature(clip))


def clip_manifest_url(clip: Clip) -> str | None:
    """The URL of a clip's sidecar manifest (`<audio path>.c2pa`, with the audio URL's signature); None for a
    clip whose file embeds its manifest."""
    if not clip.manifest:
        return None
    return audio_url(clip.filename, signed=_needs_signature(clip), suffix=".c2pa")


def _needs_signature(clip: Clip) -> bool:
    return clip.owner_id is not None or settings.CSM_REQUIRE_API_KEY
