"""/playground in a real browser: give a voice, keep it, speak with it, refusals, Stop, keys (see conftest)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import requests

from tests.audio_checks import decode
from tests.keys import new_key

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails in CI) with how to install it
    expect = None

LONG_TEXT = " ".join(["This sentence is here to keep the engine busy for a good while."] * 20)


def _player(page):
    return page.get_by_role("region", name="Player", exact=True)


def _speak(page, text: str, max_ms: int = 1600) -> None:
    """Speaks `text` with at most `max_ms` of audio (the random model babbles up to the cap; playback is real time)."""
    page.locator("#settings").evaluate("details => { details.open = true; }")
    page.get_by_label("Maximum length (ms)").fill(str(max_ms))
    page.get_by_label("Text", exact=True).fill(text)
    page.get_by_role("button", name="Speak", exact=True).click()


def _record(page, button: str, seconds: int, screenshot=None) -> None:
    """Records from Chromium's fake microphone until the page's clock shows `seconds`."""
    page.get_by_role("button", name=button, exact=True).click()
    stop = page.get_by_role("button", name="Stop recording", exact=True)
    expect(stop).to_be_visible()
    clock, level = ("record-time", "record-level") if button == "Record" else ("consent-time", "consent-level")
    # The level meter moves with the fake microphone's beeps.
    page.wait_for_function("id => parseFloat(document.getElementById(id).style.width) > 0", arg=level)
    page.wait_for_function("([id, s]) => document.getElementById(id).value >= `0:0${s}.0`", arg=[clock, seconds])
    if screenshot:
        screenshot(page, "recording")
    stop.click()


def test_the_page_is_served_with_its_static_files(server):
    page = requests.get(f"{server.url}/playground", timeout=10)
    assert page.status_code == 200
    assert 'type="module"' in page.text
    for path in re.findall(r'(?:href|src)="(/static/[^"]+)"', page.text):
        assert requests.get(server.url + path, timeout=10).status_code == 200, path


def test_upload_a_sample_and_speak(page, sample_wav, screenshot):
    screenshot(page, "start")
    page.get_by_label("Voice sample").set_input_files(sample_wav)
    page.get_by_label("Transcript", exact=True).fill("A steady voice, saying a few words.")
    _speak(page, "Hello from the playground.")
    player = _player(page)
    expect(player).to_have_attribute("data-state", "done")
    assert int(player.get_attribute("data-ttfa-ms")) >= 0
    assert int(player.get_attribute("data-audio-ms")) > 0
    duration = page.locator("#player-audio").evaluate(
        "audio => new Promise(resolve => audio.readyState ? resolve(audio.duration)"
        " : audio.addEventListener('loadedmetadata', () => resolve(audio.duration)))"
    )
    assert duration > 0
    expect(page.locator("#player-stats")).to_contain_text("real time")
    screenshot(page, "spoken")


def test_speak_with_a_builtin_name_needs_no_sample(page):
    page.get_by_label("Voice", exact=True).select_option("alloy")
    _speak(page, "No sample needed.")
    expect(_player(page)).to_have_attribute("data-state", "done")
    assert int(_player(page).get_attribute("data-audio-ms")) > 0


def test_download_in_the_chosen_format(page, sample_wav):
    page.get_by_label("Voice sample").set_input_files(sample_wav)
    _speak(page, "Keep this one.")
    expect(_player(page)).to_have_attribute("data-state", "done")
    page.get_by_label("Output format").select_option("flac")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download", exact=True).click()
    assert download.value.suggested_filename == "speech.flac"
    decoded = decode(Path(download.value.path()).read_bytes(), "flac")
    assert (decoded.codec, decoded.sample_rate) == ("flac", 24_000)
    assert decoded.duration > 0


def test_record_save_with_consent_list_and_speak_then_delete(page, server, screenshot):
    name = f"rec-{uuid.uuid4().hex[:8]}"
    _record(page, "Record", 3, screenshot)
    expect(page.locator("#sample-info")).to_contain_text("s recorded")
    _record(page, "Record consent", 2)
    page.get_by_label("Voice name").fill(name)
    page.get_by_role("button", name="Save voice", exact=True).click()
    voices = page.get_by_role("list", name="Saved voices")
    expect(voices.get_by_text(name, exact=True)).to_be_visible()
    saved = [v for v in requests.get(f"{server.url}/v1/audio/voices", timeout=10).json()["data"] if v["name"] == name]
    assert len(saved) == 1
    expect(page.get_by_label("Voice", exact=True)).to_have_value(saved[0]["id"])
    sample = page.get_by_label(f"Sample of {name}")
    expect(sample).to_have_attribute("src", re.compile("^blob:"))
    _speak(page, "Now in my saved voice.")
    expect(_player(page)).to_have_attribute("data-state", "done")
    assert int(_player(page).get_attribute("data-audio-ms")) > 0
    screenshot(page, "saved-voice")
    page.get_by_role("button", name=f"Delete {name}", exact=True).click()
    expect(voices.get_by_text(name, exact=True)).to_have_count(0)
    names = [v["name"] for v in requests.get(f"{server.url}/v1/audio/voices", timeout=10).json()["data"]]
    assert name not in names


def test_a_refused_sample_shows_the_servers_message(page, server, short_wav, screenshot):
    with short_wav.open("rb") as sample:
        refused = requests.post(f"{server.url}/v1/voice-clone", data={"text": "Hi."}, files={"audio_file": sample})
    assert refused.status_code == 400
    message = refused.json()["error"]["message"]
    page.get_by_label("Voice sample").set_input_files(short_wav)
    _speak(page, "Hello.")
    expect(page.locator("#sample-error")).to_have_text(message)
    expect(_player(page)).to_have_attribute("data-state", "error")
    screenshot(page, "refused")


def test_saving_a_voice_from_a_file_that_is_not_audio_shows_the_servers_message(page, server, sample_wav, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("These are meeting notes, not a voice.")
    with sample_wav.open("rb") as consent, notes.open("rb") as sample:
        consent_id = requests.post(
            f"{server.url}/v1/audio/voice_consents",
            data={"name": "c", "language": "en-US"},
            files={"recording": consent},
            timeout=30,
        ).json()["id"]
        refused = requests.post(
            f"{server.url}/v1/audio/voices",
            data={"name": "notes", "consent": consent_id},
            files={"audio_sample": sample},
            timeout=30,
        )
    assert refused.status_code == 400
    page.get_by_label("Voice sample").set_input_files(notes)
    page.get_by_label("Consent recording", exact=True).set_input_files(sample_wav)
    page.get_by_label("Voice name").fill(f"notes-{uuid.uuid4().hex[:8]}")
    page.get_by_role("button", name="Save voice", exact=True).click()
    expect(page.locator("#sample-error")).to_have_text(refused.json()["error"]["message"])
    expect(page.get_by_role("list", name="Saved voices")).not_to_contain_text("notes-")


def test_stop_cancels_and_the_engine_goes_idle(page, server, sample_wav):
    page.get_by_label("Voice sample").set_input_files(sample_wav)
    _speak(page, LONG_TEXT, max_ms=60000)
    player = _player(page)
    expect(player).to_have_attribute("data-ttfa-ms", re.compile(r"^\d+$"))
    assert server.health()["model"]["active_requests"] >= 1  # still generating when Stop is pressed
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(player).to_have_attribute("data-state", "idle")
    model = server.wait_idle()
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)
    expect(page.locator("#player-status")).to_have_text("Stopped.")


def test_stream_text_in_speaks_each_sentence_as_typed(page, sample_wav, screenshot):
    page.get_by_label("Voice sample").set_input_files(sample_wav)
    page.get_by_label("Live text", exact=True).press_sequentially("Hello there. How are you", delay=20)
    live = page.get_by_role("region", name="Live player")
    expect(live).to_have_attribute("data-ttfa-ms", re.compile(r"^\d+$"))
    page.get_by_role("button", name="Finish", exact=True).click()
    expect(live).to_have_attribute("data-state", "done")
    expect(page.locator("#live-error")).to_have_text("")
    screenshot(page, "stream-text")


def test_stop_streaming_cancels_the_live_utterance(page, server, sample_wav):
    page.get_by_label("Voice sample").set_input_files(sample_wav)
    page.locator("#settings").evaluate("details => { details.open = true; }")
    page.get_by_label("Maximum length (ms)").fill("60000")
    page.get_by_label("Live text", exact=True).press_sequentially("A sentence long enough to keep it going. ")
    live = page.get_by_role("region", name="Live player")
    expect(live).to_have_attribute("data-ttfa-ms", re.compile(r"^\d+$"))
    assert server.health()["model"]["active_requests"] >= 1  # still generating when Stop is pressed
    page.get_by_role("button", name="Stop streaming", exact=True).click()
    expect(page.locator("#live-status")).to_have_text("Stopped.")
    model = server.wait_idle()
    assert (model["active_requests"], model["waiting_requests"]) == (0, 0)


def test_with_a_key_the_websocket_takes_it_as_a_subprotocol(auth_page, sample_wav):
    auth_page.get_by_label("API key").fill(new_key("live"))
    auth_page.get_by_role("button", name="Save key", exact=True).click()
    auth_page.get_by_label("Voice sample").set_input_files(sample_wav)
    auth_page.get_by_label("Live text", exact=True).press_sequentially("Hello there. ")
    expect(auth_page.get_by_role("region", name="Live player")).to_have_attribute("data-ttfa-ms", re.compile(r"^\d+$"))
    expect(auth_page.locator("#live-error")).to_have_text("")


def test_with_keys_required_a_missing_key_gets_a_clear_prompt(auth_page, screenshot):
    prompt = auth_page.get_by_role("alert").filter(has_text="requires an API key")
    expect(prompt).to_be_visible()
    expect(auth_page.get_by_label("API key")).to_be_focused()
    screenshot(auth_page, "key-prompt")
    secret = new_key("playground")
    auth_page.get_by_label("API key").fill(secret)
    auth_page.get_by_role("button", name="Save key", exact=True).click()
    expect(prompt).to_be_hidden()
    assert auth_page.evaluate("localStorage.getItem('csm-voice-api.key')") == secret
    auth_page.reload()
    expect(auth_page.get_by_label("API key")).to_have_value(secret)
    expect(prompt).to_be_hidden()


@pytest.mark.parametrize("key", ["", "sk-wrong"])
def test_speaking_without_a_valid_key_says_why(auth_page, sample_wav, key):
    if key:
        auth_page.get_by_label("API key").fill(key)
        auth_page.get_by_role("button", name="Save key", exact=True).click()
    auth_page.get_by_label("Voice sample").set_input_files(sample_wav)
    _speak(auth_page, "Hello.")
    expect(_player(auth_page)).to_have_attribute("data-state", "error")
    expect(auth_page.locator("#speak-error")).to_contain_text("API key" if not key else "key")
