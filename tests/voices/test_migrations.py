"""Migration 0003 adds the unique voice names to a database that may already hold duplicates."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("voices", "0002_consent_restrict")]
AFTER = [("voices", "0003_voice_name_unique")]


@pytest.mark.django_db(transaction=True)
def test_duplicate_names_are_renamed_and_nothing_is_lost():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    ApiKey = apps.get_model("accounts", "ApiKey")
    Consent = apps.get_model("voices", "VoiceConsent")
    Voice = apps.get_model("voices", "Voice")
    key = ApiKey.objects.create(name="k", prefix="csm-", hashed_secret="x" * 64)
    other = ApiKey.objects.create(name="o", prefix="csm-", hashed_secret="y" * 64)
    consent = Consent.objects.create(id="cons_1", name="c", language="en", recording="consents/c.wav")
    common = {"consent": consent, "sample": "voices/s.wav", "codes": b"", "codebooks": 0, "frames": 0}
    rows = [
        ("voice_1", "Alice", key, False),
        ("voice_2", "alice", key, False),  # the same key: renamed
        ("voice_3", "ALICE", None, False),
        ("voice_4", "Alice", None, False),  # both without a key: renamed
        ("voice_5", "alice", other, True),  # another key's, shared: kept
        ("voice_6", "Alice", None, True),  # a second shared "alice" (and keyless): renamed
        ("voice_7", "Bob", key, False),
    ]
    for voice_id, name, owner, shared in rows:
        Voice.objects.create(id=voice_id, name=name, owner=owner, shared=shared, codes_model="m", **common)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    Voice = executor.loader.project_state(AFTER).apps.get_model("voices", "Voice")
    names = dict(Voice.objects.values_list("id", "name"))
    assert names == {
        "voice_1": "Alice",
        "voice_2": "alice (voice_2)",
        "voice_3": "ALICE",
        "voice_4": "Alice (voice_4)",
        "voice_5": "alice",
        "voice_6": "Alice (voice_6)",
        "voice_7": "Bob",
    }
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
