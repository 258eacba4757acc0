"""Deleting a voice or a consent (one by one, in bulk, or from the admin) deletes its file too."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Voice, VoiceConsent


@receiver(post_delete, sender=Voice)
def delete_voice_sample(sender, instance: Voice, **kwargs) -> None:
    if instance.sample:
        instance.sample.storage.delete(instance.sample.name)


@receiver(post_delete, sender=VoiceConsent)
def delete_consent_recording(sender, instance: VoiceConsent, **kwargs) -> None:
    if instance.recording:
        instance.recording.storage.delete(instance.recording.name)
