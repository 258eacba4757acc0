"""Deletes expired streaming sessions and their uploaded samples."""

from django.core.management.base import BaseCommand
from django.utils import timezone

from streaming.models import StreamingSession


class Command(BaseCommand):
    help = "Delete streaming sessions past their expiry (rows and uploaded samples)."

    def handle(self, *args, **options) -> None:
        deleted = 0
        for session in StreamingSession.objects.filter(expires_at__lte=timezone.now()).iterator():
            session.delete()  # the post_delete receiver removes the sample file
            deleted += 1
        self.stdout.write(f"Deleted {deleted} expired streaming session(s).")
