"""Deletes clips older than CSM_CLIP_RETENTION_DAYS: the rows and their files (for cron; the server also does it)."""

from django.core.management.base import BaseCommand

from synthesis.services import purge_expired_clips


class Command(BaseCommand):
    help = "Delete expired clips (row and files) older than CSM_CLIP_RETENTION_DAYS days."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=None, help="override CSM_CLIP_RETENTION_DAYS")

    def handle(self, *args, days: int | None = None, **options) -> None:
        deleted = purge_expired_clips(days=days)
        self.stdout.write(f"Deleted {deleted} clip(s) past their retention.")
