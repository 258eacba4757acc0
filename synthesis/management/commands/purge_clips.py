"""Deletes clips older than CSM_CLIP_RETENTION_DAYS: the rows and their files."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from synthesis.models import Clip


class Command(BaseCommand):
    help = "Delete expired clips (row and files) older than CSM_CLIP_RETENTION_DAYS days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override CSM_CLIP_RETENTION_DAYS")

    def handle(self, *args, days: int | None = None, **options) -> None:
        days = settings.CSM_CLIP_RETENTION_DAYS if days is None else days
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        for clip in Clip.objects.filter(created_at__lt=cutoff).iterator():
            clip.delete()  # the post_delete receiver removes the files
            deleted += 1
        self.stdout.write(f"Deleted {deleted} clip(s) older than {days} day(s).")
