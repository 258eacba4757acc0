"""Deletes expired streaming sessions and their uploaded samples (for cron; the server also does it)."""

from django.core.management.base import BaseCommand

from streaming.services import purge_expired_sessions


class Command(BaseCommand):
    help = "Delete streaming sessions past their expiry (rows and uploaded samples)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"Deleted {purge_expired_sessions()} expired streaming session(s).")
