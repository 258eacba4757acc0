"""API keys: creation, storage, and how the server reads them when keys are optional (the DEBUG `server`)."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command

from accounts.authentication import bearer_secret
from accounts.models import ApiKey
from accounts.selectors import active_key
from tests.keys import Client, clone, new_key, speak


@pytest.mark.django_db
def test_create_api_key_prints_the_secret_once_and_stores_only_its_hash():
    out, err = StringIO(), StringIO()
    call_command("create_api_key", "ci robot", stdout=out, stderr=err)
    secret = out.getvalue().strip()
    assert secret.startswith("csm-") and len(secret) > 40
    key = ApiKey.objects.get()
    assert key.name == "ci robot" and key.active
    assert key.hashed_secret == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in {key.prefix, key.hashed_secret, key.name}
    assert key.prefix == secret[:12]
    assert "not shown again" in err.getvalue()
    assert active_key(secret=secret) == key
    assert active_key(secret=secret + "x") is None


@pytest.mark.parametrize(
    ("header", "secret"),
    [
        (None, None),
        ("", None),
        ("Bearer csm-abc", "csm-abc"),
        ("bearer   csm-abc  ", "csm-abc"),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearer", None),
        ("Bearer ", None),
    ],
)
def test_bearer_parsing(header, secret):
    assert bearer_secret(header) == secret


def test_keys_optional_placeholder_tokens_are_no_key_but_our_unknown_keys_are_401(server):
    from synthesis.models import Clip

    placeholder = Client(server, "sk-not-needed-locally")
    assert speak(placeholder, "alloy").status_code == 200
    assert clone(placeholder).status_code == 200
    assert Clip.objects.get().owner is None
    response = speak(Client(server, "csm-revoked-or-mistyped"), "alloy")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_keys_optional_a_valid_key_still_owns_what_it_makes(server):
    from synthesis.models import Clip

    secret = new_key("dev")
    with_key, without = Client(server, secret), Client(server)
    url = clone(with_key).json()["audio_url"]
    assert "?sig=" in url  # it has an owner, so the handed-out URL is signed
    assert Clip.objects.get().owner.name == "dev"
    path = url.split("?")[0]
    assert without.get(path).status_code == 404
    assert without.get(url).status_code == 200
    assert with_key.get(path).status_code == 200
    plain = clone(without).json()["audio_url"]
    assert "?" not in plain
    assert with_key.get(plain).status_code == 404  # made without a key: not the key's


def test_last_used_is_recorded(server):
    secret = new_key("k")
    assert ApiKey.objects.get().last_used_at is None
    Client(server, secret).get("/v1/audio/voices")
    assert ApiKey.objects.get().last_used_at is not None
