"""Shared fixtures: a real Daphne server process on the test database, and HTTP clients for it."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests import fixtures

REPO_DIR = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _database_url(settings_dict: dict) -> str:
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict.get("USER") or "")
    password = f":{quote(settings_dict['PASSWORD'])}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "localhost"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


class LiveServer:
    """A Daphne process serving config.asgi:application, sharing the tests' database and media."""

    def __init__(self, *, database_url: str, extra_env: dict[str, str] | None = None, wait: bool = True) -> None:
        """Starts the process and, unless `wait` is false (then call wait_ready()), waits until it serves."""
        from django.conf import settings

        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="daphne-", suffix=".log", delete=False)  # noqa: SIM115 - open for the process's life
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
            "CSM_MODEL": settings.CSM_MODEL,
            "DEBUG": "1",
            "PYTHONUNBUFFERED": "1",
            **(extra_env or {}),
        }
        # The production server: Daphne with the request limits of config.server.
        command = [sys.executable, "-m", "config.server", "-b", "127.0.0.1", "-p", str(self.port)]
        command.append("config.asgi:application")
        self.process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                model = requests.get(f"{self.url}/health", timeout=2).json()["model"]
                if model["status"] in ("ready", "failed"):
                    return
            except (requests.ConnectionError, requests.Timeout, KeyError, json.JSONDecodeError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Daphne did not become ready:\n{Path(self.log.name).read_text()[-4000:]}")

    def health(self) -> dict:
        return requests.get(f"{self.url}/health", timeout=5).json()

    def wait_idle(self, timeout: float = 30) -> dict:
        """Waits until the engine has no active or waiting request; returns the last model state."""
        deadline = time.monotonic() + timeout
        while True:
            model = self.health()["model"]
            if model["active_requests"] == 0 and model["waiting_requests"] == 0:
                return model
            if time.monotonic() > deadline:
                return model
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that talk to the server need the test database (which pytest-django creates only for tests
    marked django_db); transactional, so what either process writes is committed and seen by the other."""
    for item in items:
        uses_server = {"server", "api", "auth_server"} & set(getattr(item, "fixturenames", ()))
        if uses_server and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db(transaction=True))


@pytest.fixture(scope="session")
def server(django_db_setup, django_db_blocker) -> LiveServer:
    from django.db import connection

    server = LiveServer(database_url=_database_url(connection.settings_dict))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def auth_server(django_db_setup, django_db_blocker) -> LiveServer:
    """A second server with CSM_REQUIRE_API_KEY on (`server` runs in DEBUG, where keys are optional)."""
    from django.db import connection

    server = LiveServer(database_url=_database_url(connection.settings_dict), extra_env={"CSM_REQUIRE_API_KEY": "1"})
    yield server
    server.stop()


@pytest.fixture
def api(server: LiveServer) -> requests.Session:
    """A requests session whose relative URLs go to the live server."""

    class Session(requests.Session):
        def request(self, method, url, *args, **kwargs):
            kwargs.setdefault("timeout", 120)
            return super().request(method, server.url + url, *args, **kwargs)

    with Session() as session:
        yield session


@pytest.fixture(scope="session", autouse=True)
def test_audio() -> Path:
    """Generates the suite's test audio (tests/fixtures.py) once, before any test; removes it after."""
    fixtures.generate()
    yield fixtures.GENERATED_DIR
    shutil.rmtree(fixtures.GENERATED_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def manifest(test_audio) -> list[dict]:
    """Every sample (generated, then ../shared/fixtures' where present) with its transcript and `path`."""
    return fixtures.manifest_entries()


@pytest.fixture(scope="session")
def sample_path(test_audio) -> Path:
    return fixtures.SAMPLE


SAMPLE_TEXT = fixtures.ALICE
