from django.apps import AppConfig


class VoicesConfig(AppConfig):
    name = "voices"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
