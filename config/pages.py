"""The pages a user lands on. Each is a plain HTML file among the static files (with its CSS and ES modules
beside it), served at a readable address; the page itself talks to the public API only."""

from __future__ import annotations

from django.contrib.staticfiles import finders
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_safe


@require_safe
def static_page(request: HttpRequest, *, page: str) -> FileResponse:
    """The static HTML file `page` (a path under a static folder, e.g. `landing/index.html`)."""
    path = finders.find(page)
    if path is None:
        raise Http404(page)
    return FileResponse(open(path, "rb"), content_type="text/html; charset=utf-8")  # noqa: SIM115 - closed by the response
