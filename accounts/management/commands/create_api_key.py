from django.core.management.base import BaseCommand

from accounts.services import create_api_key


class Command(BaseCommand):
    help = "Creates an API key and prints its secret (shown only this once; only its hash is stored)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help="who or what will use the key")

    def handle(self, *args, name: str, **options) -> None:
        key, secret = create_api_key(name=name)
        self.stderr.write(f"Created API key {key.pk} '{key.name}'. Store the secret now: it is not shown again.")
        self.stdout.write(secret)
