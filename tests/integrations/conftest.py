"""Voice-agent frameworks driving the live server with their own TTS classes (the `integrations` extra).

Without the extra these tests are skipped; with CSM_REQUIRE_INTEGRATIONS=1 (CI) a missing framework fails
instead, so a broken install cannot pass as skips.
"""

from __future__ import annotations

import importlib
import os
import uuid
from types import ModuleType

import pytest

from tests.conftest import SAMPLE_TEXT

INSTALL_HINT = "install the integrations extra: pip install -e '.[dev,integrations]'"

# Long enough that the engine would still be generating minutes after a client gave up on it.
LONG_TEXT = " ".join(f"This is sentence number {n} of a long answer that a voice agent reads out." for n in range(40))


def require(module: str) -> ModuleType:
    """Imports a framework's module, or skips the test with the install hint (fails in CI instead)."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        if os.environ.get("CSM_REQUIRE_INTEGRATIONS") == "1":
            raise
        pytest.skip(f"{module} is not installed ({error}); {INSTALL_HINT}", allow_module_level=True)


@pytest.fixture
def base_url(server) -> str:
    return f"{server.url}/v1"


@pytest.fixture
def saved_voice(api, sample_path) -> dict:
    """A voice cloned through the API, with its consent, as a user would save one."""
    with sample_path.open("rb") as recording:
        consent = api.post(
            "/v1/audio/voice_consents", data={"name": "Agent voice consents", "language": "en-US"},
            files={"recording": recording},
        )  # fmt: skip
    assert consent.status_code == 200, consent.text
    with sample_path.open("rb") as sample:
        voice = api.post(
            "/v1/audio/voices",
            data={"name": f"agent-{uuid.uuid4().hex[:8]}", "consent": consent.json()["id"], "transcript": SAMPLE_TEXT},
            files={"audio_sample": sample},
        )
    assert voice.status_code == 200, voice.text
    return voice.json()


def assert_idle(server) -> None:
    """The engine stopped: nothing active or waiting (a request left running would take minutes)."""
    model = server.wait_idle(timeout=60)
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)


def seconds_of_pcm(data: bytes) -> float:
    return len(data) / 2 / 24_000


def assert_plausible_length(seconds: float, text: str) -> None:
    """At least one 80 ms frame, at most the engine's cap for the text (about four times its speaking time at
    15 characters a second, 3 s at least): tiny-random speaks noise until a frame ends it or the cap does."""
    cap = max(3.0, len(text) * 4 / 15)
    assert 0.08 <= seconds <= cap + 0.2, f"{seconds:.2f} s of audio for {len(text)} characters"
