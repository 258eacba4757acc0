"""The reliability group: a server with the production settings (DEBUG off, keys required) on the tests'
database, and Redis when REDIS_URL is set (the PostgreSQL + Redis pass of `.ci/run`)."""

from __future__ import annotations

import os

import pytest

from tests.conftest import LiveServer, _database_url
from tests.keys import Client, new_key

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "reliability-tests",
    "CSM_REQUIRE_API_KEY": "1",
    "CSM_RATE_LIMIT": "",
    # Shorter than the defaults (10 s and 60 s), so that the slow-client tests end sooner.
    "CSM_HEADER_TIMEOUT": "4",
    "CSM_BODY_TIMEOUT": "6",
}

needs_redis = pytest.mark.skipif(
    not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the PostgreSQL + Redis pass of .ci/run sets it)"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "production_server" in getattr(item, "fixturenames", ()) and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(scope="session")
def production_server(django_db_setup, django_db_blocker) -> LiveServer:
    """A server as production runs it: DEBUG off, keys required, the Redis layer when REDIS_URL is set."""
    from django.db import connection

    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env=PRODUCTION_ENV)
    yield server
    server.stop()


@pytest.fixture
def client(production_server) -> Client:
    """A client of the production server with a new key."""
    with Client(production_server, new_key()) as client:
        yield client
