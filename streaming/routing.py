"""WebSocket routes."""

from django.urls import path

from .consumers import StreamTextConsumer

websocket_urlpatterns = [
    path("v1/ws/stream-text/<str:session_id>", StreamTextConsumer.as_asgi()),
]
