from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from accounts.models import owner_field
from speech.engine.sampling import DEFAULT_TEMPERATURE, DEFAULT_TOPK
from speech.voice import SAMPLE_SPEAKER


class StreamingSession(models.Model):
    """A voice and its parameters kept for a stream of text, with the text not yet spoken and the last segment.

    Everything needed to speak the next segment is stored here (the voice's Mimi codes included), so any
    server process sharing the database can continue a session that another one started.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = owner_field(related_name="streaming_sessions")
    voice = models.ForeignKey(
        "voices.Voice", null=True, blank=True, on_delete=models.SET_NULL, related_name="streaming_sessions",
        help_text="The saved voice it speaks with (its codes are copied here); empty for an uploaded sample.",
    )  # fmt: skip
    voice_sample = models.FileField(upload_to="sessions/", blank=True)
    voice_sample_text = models.TextField(blank=True)
    voice_codes = models.JSONField(
        null=True, blank=True, help_text="The sample's Mimi codes, [codebooks][frames] (the prepared context)."
    )
    speaker_id = models.PositiveIntegerField(default=SAMPLE_SPEAKER)
    temperature = models.FloatField(default=DEFAULT_TEMPERATURE)
    topk = models.PositiveIntegerField(default=DEFAULT_TOPK)
    seed = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Segment n speaks with a seed made from this one and n; empty: random."
    )
    max_audio_length_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Cap per segment; empty means the engine's default for the text."
    )
    output_format = models.CharField(max_length=8, default="wav")
    text_buffer = models.TextField(blank=True, help_text="Text received but not yet spoken.")
    previous_text = models.TextField(blank=True)
    previous_codes = models.JSONField(
        null=True, blank=True, help_text="The last spoken segment's Mimi codes, context for the next one."
    )
    segments_spoken = models.PositiveIntegerField(default=0, help_text="Segments spoken to the end.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"session {self.id}"

    @property
    def expired(self) -> bool:
        return self.expires_at <= timezone.now()
