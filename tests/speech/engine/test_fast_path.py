"""A start that cannot break: the fast frame steps (CUDA graphs, compiled, or their bucketed shapes) are checked
against the direct steps when the engine starts; a failure or a disagreement leaves the direct steps serving,
and /health says which steps serve and why."""

import asyncio

import pytest

from speech import runtime
from speech.engine import frames, worker
from speech.engine.frames import FrameGenerator
from speech.engine.graphs import StepGraphs
from speech.engine.loading import load_model
from speech.engine.worker import Engine, SpeechRequest


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random", device="cpu", dtype="float32")


@pytest.fixture
def fast_engine(monkeypatch):
    """Makes the next Engine try the bucketed steps, the CUDA-graph path without the capture (on a CPU)."""

    def generator(model, **options):
        return FrameGenerator(model, **{**options, "cuda_graphs": True})

    monkeypatch.setattr(worker, "FrameGenerator", generator)
    engines = []

    def start(loaded) -> Engine:
        engines.append(Engine(loaded, max_batch=2, max_queue=2))
        return engines[-1]

    yield start
    for engine in engines:
        engine.close()


def speaks(engine: Engine) -> int:
    async def run():
        stream = engine.speak(SpeechRequest(text="Still speaking.", seed=3, max_audio_length_ms=6 * 80))
        return len(await stream.read_all())

    return asyncio.run(run())


def health(client, engine: Engine, monkeypatch) -> dict:
    monkeypatch.setitem(runtime._state, "engine", engine)
    monkeypatch.setitem(runtime._state, "status", "ready")
    return client.get("/health").json()["model"]


def test_fast_steps_that_agree_serve(loaded, fast_engine):
    engine = fast_engine(loaded)
    assert (engine.generator.path, engine.generator.fallback_reason) == ("bucketed", None)
    assert engine.generator.backbone_graphs is not None
    assert speaks(engine) == 6 * 1920


@pytest.mark.django_db
def test_a_capture_failure_leaves_the_direct_steps_serving_and_health_says_why(
    loaded, fast_engine, monkeypatch, client
):
    def capture_fails(self, *args, **kwargs):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing (injected)")

    monkeypatch.setattr(StepGraphs, "__init__", capture_fails)
    engine = fast_engine(loaded)
    assert engine.generator.path == "direct"
    assert engine.generator.depth_graphs is None and engine.generator.backbone_graphs is None
    assert speaks(engine) == 6 * 1920
    model = health(client, engine, monkeypatch)
    assert model["path"] == "direct"
    assert model["path_fallback_reason"].startswith("The bucketed steps were not used: starting them failed:")
    assert (
        "RuntimeError: CUDA error: operation not permitted when stream is capturing (injected)"
        in (model["path_fallback_reason"])
    )


@pytest.mark.django_db
def test_fast_steps_giving_other_codes_leave_the_direct_steps_serving(loaded, fast_engine, monkeypatch, client):
    replay = StepGraphs.__call__

    def wrong_codes(self, shape, **values):
        return replay(self, shape, **values) + 1  # a graph that computes something else

    monkeypatch.setattr(StepGraphs, "__call__", wrong_codes)
    engine = fast_engine(loaded)
    assert engine.generator.path == "direct"
    assert speaks(engine) == 6 * 1920
    model = health(client, engine, monkeypatch)
    assert model["path"] == "direct"
    assert model["path_fallback_reason"] == (
        "The bucketed steps were not used: 8 of the 8 greedy codes of their frame differ from the direct steps'"
    )


def test_the_check_leaves_row_zero_free(loaded):
    generator = FrameGenerator(loaded.model, max_batch=2, cuda_graphs=True)
    assert generator.lengths == [0, 0]
    assert frames.FrameGenerator(loaded.model, max_batch=2).path == "direct"  # on a CPU, by default
