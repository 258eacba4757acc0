"""Deleting a clip (one by one, in bulk, or from the admin) deletes its files too."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from .models import Clip


@receiver(post_delete, sender=Clip)
def delete_clip_files(sender, instance: Clip, **kwargs) -> None:
    for field in (instance.file, instance.manifest, instance.voice_sample):
        if field:
            field.storage.delete(field.name)
