from django.urls import path

from . import views

urlpatterns = [
    path("v1/audio/voice_consents", views.ConsentListView.as_view()),
    path("v1/audio/voice_consents/<str:consent_id>", views.ConsentDetailView.as_view()),
    path("v1/audio/voices", views.VoiceListView.as_view()),
    path("v1/audio/voices/<str:voice_id>", views.VoiceDetailView.as_view()),
    path("v1/audio/voices/<str:voice_id>/sample", views.VoiceSampleView.as_view()),
    path("v1/audio/models", views.AudioModelListView.as_view()),
]
