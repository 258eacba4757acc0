"""Static files served by the app itself (admin, the offline Swagger UI / ReDoc bundles)."""

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation

from config.errors import not_found


class StaticFilesHandler(ASGIStaticFilesHandler):
    """Django's handler, with a path outside the static folders (`/static/..`) a JSON 404 instead of a 500."""

    def serve(self, request):
        try:
            return super().serve(request)
        except SuspiciousOperation:
            return not_found(request)
