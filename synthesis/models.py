from __future__ import annotations

import uuid
from pathlib import PurePath

from django.db import models

from accounts.models import owner_field


class Clip(models.Model):
    """A generated clip: what was asked, with which voice, and the stored audio."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    text = models.TextField()
    parameters = models.JSONField(default=dict, blank=True, help_text="temperature, topk, speaker_id, ...")
    output_format = models.CharField(max_length=8)
    voice_sample = models.FileField(upload_to="samples/", blank=True)
    voice_sample_text = models.TextField(blank=True)
    file = models.FileField(upload_to="clips/")
    manifest = models.FileField(
        upload_to="clips/", blank=True,
        help_text="The sidecar C2PA manifest of a format that cannot embed one (opus, aac, pcm).",
    )  # fmt: skip
    duration_seconds = models.FloatField()
    owner = owner_field(related_name="clips")
    voice = models.ForeignKey(
        "voices.Voice", null=True, blank=True, on_delete=models.SET_NULL, related_name="clips",
        help_text="The saved voice it was spoken with (empty for built-in voices and one-off samples).",
    )  # fmt: skip
    consent = models.ForeignKey(
        "voices.VoiceConsent", null=True, blank=True, on_delete=models.SET_NULL, related_name="clips",
        help_text="The consent of the saved voice it was spoken with.",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.filename} ({self.duration_seconds:.1f} s)"

    @property
    def filename(self) -> str:
        return PurePath(self.file.name).name
