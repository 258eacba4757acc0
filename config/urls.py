import posixpath

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import Http404
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from config.errors import not_found
from config.metrics import metrics
from config.pages import static_page


def media(request, path: str):
    """A file of the local media, except c2pa/, where the development signing key is kept."""
    if posixpath.normpath(path).lstrip("/").startswith("c2pa/"):
        raise Http404
    return serve(request, path, document_root=settings.MEDIA_ROOT)


handler400 = "config.errors.bad_request"
handler404 = "config.errors.not_found"
handler500 = "config.errors.server_error"

urlpatterns = [
    path("", static_page, {"page": "landing/index.html"}, name="landing"),
    path("admin/", admin.site.urls),
    path("metrics", metrics, name="metrics"),  # Prometheus; CSM_METRICS_KEY guards it when set
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="schema", template_name="synthesis/redoc.html"), name="redoc"),
    # Local media (samples, recordings, clips) for the admin's players: staff only. Clients use /v1/audio/.
    path("media/<path:path>", staff_member_required(media)),
    path("", include("voices.urls")),  # before synthesis: its v1/audio/<filename> would catch voices and models
    path("", include("streaming.urls")),
    path("", include("synthesis.urls")),
    path("", include("playground.urls")),  # /playground: the web playground
    re_path(r"^v1/", not_found),  # JSON 404s for unknown API paths, in DEBUG too
]
