"""ASGI entry point: HTTP through Django, WebSockets through Channels. Starts loading the model, and housekeeping."""

import logging
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

from config.static import StaticFilesHandler  # noqa: E402

# Static files (admin, and the offline Swagger UI / ReDoc bundles) are served by the app itself.
django_application = StaticFilesHandler(get_asgi_application())

from config.housekeeping import start_housekeeping  # noqa: E402
from speech.runtime import start_engine  # noqa: E402
from streaming.routing import websocket_urlpatterns  # noqa: E402

start_engine()
start_housekeeping()
logging.getLogger(__name__).info(
    "csm-voice-api: docs at /docs, playground at /playground, admin at /admin, the model's state at /health"
)

application = ProtocolTypeRouter({"http": django_application, "websocket": URLRouter(websocket_urlpatterns)})
