from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"

    def ready(self) -> None:
        from . import receivers  # noqa: F401
