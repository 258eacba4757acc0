"""X-Served-By names the replica that answered (CSM_SERVER_NAME), on sync and async views; no header unset."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client


def test_a_sync_view_names_the_replica(settings):
    settings.CSM_SERVER_NAME = "replica-a"
    response = Client().get("/v1/models")
    assert response.status_code == 200
    assert response["X-Served-By"] == "replica-a"


@pytest.mark.django_db(transaction=True)  # the async view reads in another thread
def test_an_async_view_names_the_replica(settings):
    settings.CSM_SERVER_NAME = "replica-b"
    response = async_to_sync(AsyncClient().get)("/v1/audio/voices")  # VoiceListView is async
    assert response.status_code == 200
    assert response["X-Served-By"] == "replica-b"


def test_no_name_no_header(settings):
    settings.CSM_SERVER_NAME = ""
    assert "X-Served-By" not in Client().get("/v1/models")
