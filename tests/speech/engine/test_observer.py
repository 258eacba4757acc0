"""The engine's observer: the facts metrics are built on, told from the worker thread as they happen."""

from __future__ import annotations

import asyncio
import threading

import pytest

from speech.engine.loading import load_model
from speech.engine.observer import EngineObserver
from speech.engine.worker import FRAME_MS, Engine, SpeechRequest


class Recorder(EngineObserver):
    """Every call, in order, with the thread it came from."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.threads: set[str] = set()

    def _record(self, name: str, **facts) -> None:
        self.threads.add(threading.current_thread().name)
        self.calls.append((name, facts))

    def step(self, *, rows, seconds):
        self._record("step", rows=rows, seconds=seconds)

    def first_audio(self, request, *, seconds):
        self._record("first_audio", kind=request.kind, seconds=seconds)

    def audio(self, request, *, frames, seconds):
        self._record("audio", kind=request.kind, frames=frames, seconds=seconds)

    def finished(self, request, *, seconds, cancelled):
        self._record("finished", kind=request.kind, seconds=seconds, cancelled=cancelled)

    def capped(self, request):
        self._record("capped", kind=request.kind)

    def named(self, name: str) -> list[dict]:
        return [facts for call, facts in self.calls if call == name]


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random", device="cpu", dtype="float32")


@pytest.fixture
def recorder():
    return Recorder()


@pytest.fixture
def engine(loaded, recorder):
    engine = Engine(loaded, max_batch=2, max_queue=4, chunk_frames=3, observer=recorder, max_request_ms=12 * FRAME_MS)
    yield engine
    engine.close()


def request(text: str, *, frames: int, kind: str = "speech") -> SpeechRequest:
    return SpeechRequest(text=text, topk=1, max_audio_length_ms=frames * FRAME_MS, kind=kind)


def test_a_request_is_told_once_for_its_first_audio_and_its_audio_adds_up_to_what_the_caller_got(engine, recorder):
    async def speak():
        stream = engine.speak(request("Two pieces. Of speech.", frames=5, kind="clone"))
        return stream, await stream.read_all()

    stream, pcm = asyncio.run(speak())

    assert stream.frames == 10  # two pieces of 5 frames
    assert [facts["kind"] for facts in recorder.named("first_audio")] == ["clone"]
    assert recorder.named("first_audio")[0]["seconds"] > 0
    audio = recorder.named("audio")
    assert {facts["kind"] for facts in audio} == {"clone"}
    assert sum(facts["frames"] for facts in audio) == stream.frames
    assert sum(facts["seconds"] for facts in audio) == pytest.approx(pcm.size / engine.sample_rate)
    finished = recorder.named("finished")
    assert [(facts["kind"], facts["cancelled"]) for facts in finished] == [("clone", False)]
    assert finished[0]["seconds"] > 0
    assert recorder.named("capped") == []
    assert recorder.threads == {"csm-engine"}


def test_steps_report_the_rows_generated_together(engine, recorder):
    async def speak():
        streams = [engine.speak(request(text, frames=6)) for text in ("First.", "Second.")]
        await asyncio.gather(*(stream.read_all() for stream in streams))

    asyncio.run(speak())

    rows = [facts["rows"] for facts in recorder.named("step")]
    assert 2 in rows
    assert set(rows) <= {1, 2}
    assert all(facts["seconds"] > 0 for facts in recorder.named("step"))
    assert len(recorder.named("first_audio")) == 2
    assert len(recorder.named("finished")) == 2


def test_a_cancelled_request_is_finished_as_cancelled(engine, recorder):
    async def speak_then_cancel():
        stream = engine.speak(request("A long piece that will not be heard to its end.", frames=200))
        await anext(stream)
        await stream.aclose()
        while not recorder.named("finished"):
            await asyncio.sleep(0.01)

    asyncio.run(asyncio.wait_for(speak_then_cancel(), timeout=60))

    assert recorder.named("finished")[0]["cancelled"] is True


def test_a_request_that_reaches_the_audio_cap_is_told(engine, recorder):
    async def speak():
        stream = engine.speak(request("One. Two. Three.", frames=8))  # 24 frames wanted; the engine's cap is 12
        return stream, await stream.read_all()

    stream, _ = asyncio.run(speak())

    assert stream.frames == 12
    assert recorder.named("capped") == [{"kind": "speech"}]
