from django.urls import path

from . import views

urlpatterns = [
    path("v1/", views.ApiIndexView.as_view()),
    path("v1/audio/speech", views.SpeechView.as_view()),
    path("v1/voice-clone", views.VoiceCloneView.as_view()),
    path("v1/audio/<str:filename>", views.AudioFileView.as_view()),
    path("v1/models", views.ModelListView.as_view()),
    path("v1/models/<str:model_id>", views.ModelDetailView.as_view()),
    path("health", views.HealthView.as_view()),
]
