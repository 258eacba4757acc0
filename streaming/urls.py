from django.urls import path

from . import views

urlpatterns = [
    path("v1/streaming-session", views.StreamingSessionView.as_view()),
    path("v1/stream-text", views.StreamTextView.as_view()),
]
