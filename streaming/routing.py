"""WebSocket routes."""

from django.urls import path, re_path

from .consumers import StreamTextConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    path("v1/ws/stream-text/<str:session_id>", StreamTextConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),  # any other path: closed with 4404, not an HTTP 500
]
