"""Deleting a streaming session (expired, in bulk, or from the admin) deletes its uploaded sample too."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import StreamingSession


@receiver(post_delete, sender=StreamingSession)
def delete_session_sample(sender, instance: StreamingSession, **kwargs) -> None:
    if instance.voice_sample:
        instance.voice_sample.storage.delete(instance.voice_sample.name)
