from django.urls import path, register_converter

from . import views


class ObjectIdConverter:
    """Ids as we make them (`cons_...`, `voice_...`): anything else (NUL, surrogates, dots) is a 404 before any
    database sees it."""

    regex = r"[A-Za-z0-9_-]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ObjectIdConverter, "object_id")

urlpatterns = [
    path("v1/audio/voice_consents", views.ConsentListView.as_view()),
    path("v1/audio/voice_consents/<object_id:consent_id>", views.ConsentDetailView.as_view()),
    path("v1/audio/voices", views.VoiceListView.as_view()),
    path("v1/audio/voices/<object_id:voice_id>", views.VoiceDetailView.as_view()),
    path("v1/audio/voices/<object_id:voice_id>/sample", views.VoiceSampleView.as_view()),
    path("v1/audio/models", views.AudioModelListView.as_view()),
]
