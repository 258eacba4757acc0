from __future__ import annotations

import secrets
from pathlib import PurePath

import numpy as np
import torch
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import owner_field
from speech.voice import BUILTIN_VOICES, DEFAULT_SPEAKER


def _random_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def new_consent_id() -> str:
    return _random_id("cons")


def new_voice_id() -> str:
    return _random_id("voice")


def _suffix(filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    return suffix if suffix[1:].isalnum() and len(suffix) <= 6 else ".bin"


def consent_recording_path(consent: VoiceConsent, filename: str) -> str:
    return f"consents/{consent.id}{_suffix(filename)}"


def voice_sample_path(voice: Voice, filename: str) -> str:
    return f"voices/{voice.id}{_suffix(filename)}"


class VoiceConsent(models.Model):
    """A recording of the voice's owner consenting to its cloning (OpenAI's `audio.voice_consent`)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_consent_id, editable=False)
    name = models.CharField(max_length=200)
    language = models.CharField(max_length=35, help_text="BCP 47 tag of the consent phrase, e.g. en-US.")
    recording = models.FileField(upload_to=consent_recording_path, max_length=200)
    owner = owner_field(related_name="voice_consents")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "voice consent"

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class Voice(models.Model):
    """A saved voice: a sample with its transcript, the consent it was given with, and its Mimi codes."""

    id = models.CharField(primary_key=True, max_length=40, default=new_voice_id, editable=False)
    name = models.CharField(max_length=200, db_index=True)
    sample = models.FileField(upload_to=voice_sample_path, max_length=200)
    transcript = models.TextField(blank=True, help_text="What the sample says; cloning is better with it.")
    speaker_id = models.PositiveIntegerField(default=DEFAULT_SPEAKER)
    # RESTRICT: a consent in use cannot be deleted, except together with its voices (deleting their key).
    consent = models.ForeignKey(VoiceConsent, on_delete=models.RESTRICT, related_name="voices")
    owner = owner_field(related_name="voices")
    shared = models.BooleanField(
        default=False, help_text="Share with every key: listed for everyone and usable by id or name."
    )
    builtin_name = models.CharField(
        max_length=16, unique=True, null=True, blank=True, choices=[(name, name) for name in BUILTIN_VOICES],
        help_text="Requests for this OpenAI built-in voice name (from any key) speak with this voice.",
    )  # fmt: skip
    codes = models.BinaryField(editable=False, help_text="The sample's Mimi codes, int16 [codebooks, frames].")
    codebooks = models.PositiveSmallIntegerField(editable=False)
    frames = models.PositiveIntegerField(editable=False)
    codes_model = models.CharField(max_length=200, editable=False, help_text="The model whose codec made the codes.")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # A name says which voice a request means: unique, ignoring case, among one key's voices, among those
        # made without a key, and among the voices shared with every key (voices.services checks it first).
        constraints = [
            models.UniqueConstraint(
                Lower("name"), "owner", name="voice_name_unique_per_owner",
                violation_error_message="This key already has a voice with this name.",
            ),
            models.UniqueConstraint(
                Lower("name"), condition=Q(owner__isnull=True), name="voice_name_unique_without_owner",
                violation_error_message="A voice made without a key already has this name.",
            ),
            models.UniqueConstraint(
                Lower("name"), condition=Q(shared=True), name="voice_name_unique_among_shared",
                violation_error_message="A shared voice already has this name.",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"

    def set_codes(self, codes: torch.Tensor, *, model: str) -> None:
        """Stores Mimi codes [codebooks, frames] (ids below 2**15)."""
        array = codes.detach().cpu().numpy().astype("<i2")
        self.codes = array.tobytes()
        self.codebooks, self.frames = array.shape
        self.codes_model = model

    def codes_tensor(self) -> torch.Tensor:
        """The stored codes as a long tensor [codebooks, frames]."""
        array = np.frombuffer(bytes(self.codes), dtype="<i2").reshape(self.codebooks, self.frames)
        return torch.from_numpy(array.astype(np.int64))
