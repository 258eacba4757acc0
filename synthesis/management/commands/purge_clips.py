"""Deletes clips older than CSM_CLIP_RETENTION_DAYS: the rows and their files (for cron; the server also does it)."""

from django.conf import settings
from django.core.management.base import BaseCommand

from synthesis.services import purge_expired_clips


class Command(BaseCommand):
    help = "Delete expired clips (row and files) older than CSM_CLIP_RETENTION_DAYS days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override CSM_CLIP_RETENTION_DAYS")

    def handle(self, *args, days: int | None = None, **options) -> None:
        days = settings.CSM_CLIP_RETENTION_DAYS if days is None else days
        deleted = purge_expired_clips(days=days)
        self.stdout.write(f"Deleted {deleted} clip(s) older than {days} day(s).")
