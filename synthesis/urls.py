from django.urls import path, re_path

from . import views

urlpatterns = [
    path("v1/", views.ApiIndexView.as_view()),
    path("v1/audio/speech", views.SpeechView.as_view()),
    path("v1/voice-clone", views.VoiceCloneView.as_view()),
    path("v1/audio/verify", views.VerifyView.as_view()),
    re_path(r"^v1/audio/(?P<filename>[^/]+)\.c2pa$", views.ManifestFileView.as_view()),
    path("v1/audio/<str:filename>", views.AudioFileView.as_view()),
    path("v1/models", views.ModelListView.as_view()),
    path("v1/models/<str:model_id>", views.ModelDetailView.as_view()),
    path("health", views.HealthView.as_view()),
]
