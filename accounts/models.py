from __future__ import annotations

from django.db import models


class ApiKey(models.Model):
    """A key clients send as `Authorization: Bearer <secret>`; it owns the objects made with it.

    Only a SHA-256 hash of the secret is stored; the secret is shown once, when the key is created.
    """

    name = models.CharField(max_length=100, help_text="Who or what uses this key.")
    prefix = models.CharField(max_length=16, editable=False, help_text="The start of the secret, to recognise it.")
    hashed_secret = models.CharField(max_length=64, unique=True, editable=False)
    active = models.BooleanField(default=True, help_text="Inactive keys are refused (401).")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}...)"


def owner_field(related_name: str) -> models.ForeignKey:
    """The `owner` of what a key makes (voices, consents, clips, sessions): deleted with its key."""
    return models.ForeignKey(
        ApiKey,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name=related_name,
        help_text="The API key that made it; empty for requests without a key.",
    )
