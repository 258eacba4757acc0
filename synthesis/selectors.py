"""Reads for the speech APIs."""

from __future__ import annotations

import re

from .errors import NotFound
from .models import Clip

_FILENAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{2,4}$")


def clip_by_filename(filename: str) -> Clip:
    """The clip stored under `filename`; NotFound for unknown names and anything that looks like a path."""
    if not _FILENAME.match(filename):
        raise NotFound("Audio file not found.")
    clip = Clip.objects.filter(file=f"clips/{filename}").first()
    if clip is None:
        raise NotFound("Audio file not found.")
    return clip
