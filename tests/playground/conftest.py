"""Browser tests of /playground: Playwright's Python API driving Debian's Chromium against a live Daphne server.

They need the `playwright` package (`pip install -e '.[browser]'`) and Chromium (`apt-get install chromium`,
or CHROMIUM=/path/to/chrome); without either they are skipped, unless CSM_BROWSER_TESTS=required (CI), which
turns the skip into a failure; CSM_BROWSER_TESTS=skip skips them (.ci/run runs them once, in their own step).
CSM_PLAYGROUND_SCREENSHOTS=<folder> saves a screenshot of each main state there
(docs/playground holds the committed ones).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from speech import audio
from tests.conftest import LiveServer

HOW_TO_RUN = (
    "browser tests need the playwright package and Chromium: pip install -e '.[browser]' and "
    "apt-get install chromium (or set CHROMIUM to a Chrome/Chromium binary)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CSM_BROWSER_TESTS") == "required":
        pytest.fail(f"CSM_BROWSER_TESTS=required but {reason}: {HOW_TO_RUN}")
    pytest.skip(f"{reason}; {HOW_TO_RUN}")


# Module scope: while Playwright's sync API is open it marks an event loop as running in this thread, which
# would break later tests that call asyncio.run(); it is closed when the module's tests are done.
@pytest.fixture(scope="module")
def browser() -> Iterator:
    if os.environ.get("CSM_BROWSER_TESTS") == "skip":
        pytest.skip("CSM_BROWSER_TESTS=skip (.ci/run runs the browser tests in their own step)")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    executable = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not executable:
        _unavailable("no Chromium found")
    expect.set_options(timeout=60_000)
    # Playwright's sync API marks its event loop as running in this thread, so Django's guard would refuse the
    # tests' own (synchronous, single-threaded) database calls while the browser is open.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()


def _playground(browser, live: LiveServer) -> Iterator:
    """A fresh page (its own storage) on a live server's playground; uncaught script errors fail the test."""
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["microphone"], origin=live.url)
    page = context.new_page()
    page.set_default_timeout(60_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live.url}/playground")
    yield page
    context.close()
    assert errors == []


@pytest.fixture
def page(browser, server):
    yield from _playground(browser, server)


@pytest.fixture
def auth_page(browser, auth_server):
    """The playground of the server that requires keys."""
    yield from _playground(browser, auth_server)


def speech_like(seconds: float) -> np.ndarray:
    """A voiced, syllable-like signal at 24 kHz: a gliding harmonic tone under a 4 Hz envelope, with breath noise."""
    t = np.arange(int(seconds * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    pitch = 120 + 30 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / audio.SAMPLE_RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 12))
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 0.5
    noise = np.random.default_rng(0).normal(0, 0.02, t.size)
    return (0.25 * voiced * envelope + noise).astype(np.float32)


@pytest.fixture(scope="session")
def sample_wav(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("playground") / "speaker.wav"
    path.write_bytes(audio.encode(speech_like(4.0), "wav"))
    return path


@pytest.fixture(scope="session")
def short_wav(tmp_path_factory) -> Path:
    """Too short to be a voice sample (the server refuses it)."""
    path = tmp_path_factory.mktemp("playground") / "short.wav"
    path.write_bytes(audio.encode(speech_like(0.4), "wav"))
    return path


@pytest.fixture
def screenshot():
    """screenshot(page, name): saves docs-style screenshots when CSM_PLAYGROUND_SCREENSHOTS names a folder."""
    folder = os.environ.get("CSM_PLAYGROUND_SCREENSHOTS")

    def take(page, name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take
