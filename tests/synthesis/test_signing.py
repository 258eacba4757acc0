"""Signed, expiring audio URLs (in process)."""

from __future__ import annotations

import time
from unittest import mock

from synthesis.signing import audio_url, sign_filename, signature_valid

NAME = "0123456789abcdef0123456789abcdef.wav"


def test_a_fresh_signature_is_valid_for_its_file_only():
    signature = sign_filename(NAME)
    assert signature_valid(NAME, signature)
    assert not signature_valid("fedcba9876543210fedcba9876543210.wav", signature)
    assert not signature_valid(NAME, signature[:-1] + ("A" if signature[-1] != "A" else "B"))
    assert not signature_valid(NAME, None)
    assert not signature_valid(NAME, "")


def test_signatures_expire_after_the_ttl(settings):
    settings.CSM_AUDIO_URL_TTL = 60
    now = time.time()
    with mock.patch("time.time", return_value=now - 59):
        recent = sign_filename(NAME)
    with mock.patch("time.time", return_value=now - 61):
        old = sign_filename(NAME)
    assert signature_valid(NAME, recent)
    assert not signature_valid(NAME, old)
    settings.CSM_AUDIO_URL_TTL = 120
    assert signature_valid(NAME, old)


def test_urls_are_signed_only_when_asked():
    assert audio_url(NAME, signed=False) == f"/v1/audio/{NAME}"
    signed = audio_url(NAME, signed=True)
    assert signed.startswith(f"/v1/audio/{NAME}?sig=")
