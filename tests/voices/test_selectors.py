"""How a requested voice name or id resolves (in process, no server)."""

from __future__ import annotations

import pytest
import torch
from asgiref.sync import async_to_sync
from django.db import IntegrityError, transaction

from accounts.services import create_api_key
from speech.errors import NotFound
from voices import selectors, services
from voices.models import Voice, VoiceConsent

pytestmark = pytest.mark.django_db


def _voice(name: str, *, owner=None, shared: bool = False, builtin_name: str | None = None) -> Voice:
    consent = VoiceConsent.objects.create(owner=owner, name="c", language="en", recording="consents/c.wav")
    voice = Voice(owner=owner, name=name, consent=consent, shared=shared, builtin_name=builtin_name, speaker_id=4)
    voice.set_codes(torch.arange(12).reshape(3, 4), model="tiny-random")
    voice.sample.name = "voices/v.wav"
    voice.save()
    return voice


def test_codes_round_trip():
    voice = _voice("a")
    voice.refresh_from_db()
    assert torch.equal(voice.codes_tensor(), torch.arange(12).reshape(3, 4))
    assert voice.codes_tensor().dtype == torch.long


def test_by_id_then_own_name_then_builtin_then_shared_name():
    owner, _ = create_api_key(name="a")
    other, _ = create_api_key(name="b")
    own = _voice("alloy", owner=owner)
    mapped = _voice("mapped", owner=other, builtin_name="alloy")
    shared = _voice("echo", owner=other, shared=True)
    shared_named = _voice("narrator", owner=other, shared=True)
    assert selectors.find_voice(owner=owner, voice=own.pk) == own
    assert selectors.find_voice(owner=owner, voice="ALLOY") == own  # own name before the built-in mapping
    assert selectors.find_voice(owner=None, voice="alloy") == mapped
    assert selectors.find_voice(owner=owner, voice="echo") is None  # a built-in name nobody mapped
    assert selectors.find_voice(owner=owner, voice=shared.pk) == shared
    assert selectors.find_voice(owner=owner, voice="Narrator") == shared_named
    with pytest.raises(NotFound):
        selectors.find_voice(owner=owner, voice=mapped.pk)  # another key's voice, not shared


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"owner": "key"}, {"owner": "key"}),  # one key's voices
        ({}, {}),  # voices made without a key
        ({"owner": "key", "shared": True}, {"owner": "other", "shared": True}),  # shared voices
    ],
)
def test_a_name_means_one_voice_even_to_the_database(first, second):
    """Two voices named "twin" (in any case) used to coexist, and a request for "twin" picked one silently."""
    keys = {"key": create_api_key(name="key")[0], "other": create_api_key(name="other")[0]}
    _voice("twin", **{**first, "owner": keys.get(first.get("owner"))})
    with pytest.raises(IntegrityError), transaction.atomic():
        _voice("TWIN", **{**second, "owner": keys.get(second.get("owner"))})
    _voice("twin", owner=create_api_key(name="third")[0])  # another key's own voice may have the name


def test_default_voice_for_unmapped_builtin_names(settings):
    default = _voice("house voice", shared=True)
    settings.CSM_DEFAULT_VOICE = default.pk
    assert selectors.find_voice(owner=None, voice="nova") == default
    settings.CSM_DEFAULT_VOICE = "House Voice"
    assert selectors.find_voice(owner=None, voice="nova") == default
    settings.CSM_DEFAULT_VOICE = "missing"
    assert selectors.find_voice(owner=None, voice="nova") is None
    mapped = _voice("m", builtin_name="nova")
    settings.CSM_DEFAULT_VOICE = default.pk
    assert selectors.find_voice(owner=None, voice="nova") == mapped


def test_keys_required_means_no_key_owns_nothing(settings):
    voice = _voice("mine")
    settings.CSM_REQUIRE_API_KEY = False
    assert selectors.find_voice(owner=None, voice="mine") == voice
    settings.CSM_REQUIRE_API_KEY = True
    with pytest.raises(NotFound):
        selectors.find_voice(owner=None, voice="mine")


@pytest.mark.django_db(transaction=True)
def test_resolve_voice_gives_the_engine_the_stored_context():
    voice = _voice("a")
    spoken = async_to_sync(services.resolve_voice)(owner=None, voice=voice.pk, speaker=9)
    assert spoken.speaker == 4  # the saved voice's speaker, whatever the request says
    assert (spoken.saved_voice_id, spoken.consent_id) == (voice.pk, voice.consent_id)
    (segment,) = spoken.context
    assert (segment.speaker, segment.text) == (4, "")
    assert torch.equal(segment.codes, torch.arange(12).reshape(3, 4))
    uncloned = async_to_sync(services.resolve_voice)(owner=None, voice="sage", speaker=9)
    assert (uncloned.speaker, uncloned.context) == (9, [])
    with pytest.raises(NotFound) as error:
        async_to_sync(services.resolve_voice)(owner=None, voice="nobody", voice_param="voice_id")
    assert error.value.param == "voice_id"
