"""The engine worker: continuous batching, cancellation, admission."""

import asyncio
import time

import numpy as np
import pytest
import torch

from speech.engine.loading import load_model
from speech.engine.prompt import Segment
from speech.engine.worker import ContextOverflow, Engine, QueueFull, SpeechRequest
from tests.speech.engine.admission import speak_together
from tests.speech.engine.draws import assert_same_speech, trace


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random", device="cpu", dtype="float32")


@pytest.fixture
def engine(loaded):
    engine = Engine(loaded, max_batch=3, max_queue=4)
    yield engine
    engine.close()


def greedy(text: str, *, frames: int = 8, speaker: int = 0, context=()) -> SpeechRequest:
    return SpeechRequest(
        text=text, speaker=speaker, context=list(context), topk=1, temperature=1.0, max_audio_length_ms=frames * 80
    )


def test_greedy_codes_are_the_same_alone_and_among_others(engine, loaded):
    """Continuous batching must not change what a request says: alone and among others joining and leaving, its
    greedy draws see the same logits (to float rounding) and choose the same codes, unless two candidates are within
    rounding of each other (tests/speech/engine/draws.py). Its audio comes from one batched Mimi decoder shared by
    all rows, so it may differ from a solo decode by float rounding only."""
    voice = [Segment(5, "A voice sample.", torch.randint(0, 64, (8, 20), generator=torch.Generator().manual_seed(5)))]
    requests = [greedy("First, alone or not.", frames=10, context=voice), greedy("Second.", frames=6, speaker=2)]
    requests += [greedy("Third joins late.", frames=9), greedy("Fourth waits for a free row.", frames=7)]

    async def alone():
        results = []
        for request in requests:
            stream = engine.speak(request)
            results.append((await stream.read_all(), stream.last_segment.codes))
        return results

    async def together():
        # Three rows for four requests: the fourth joins when the shortest leaves, mid-generation of the others.
        streams = [engine.speak(request) for request in requests]
        audio = await asyncio.gather(*(stream.read_all() for stream in streams))
        return [(pcm, stream.last_segment.codes) for pcm, stream in zip(audio, streams, strict=True)]

    with trace(engine) as solo_draws:
        solo = asyncio.run(alone())
    with trace(engine) as batched_draws:
        batched = asyncio.run(together())
    again = asyncio.run(alone())  # decoder slots reused after others: alone, the audio is bitwise the same
    for (one, _), (repeat, _) in zip(solo, again, strict=True):
        np.testing.assert_array_equal(one, repeat)
    for (one, one_codes), (many, many_codes), request in zip(solo, batched, requests, strict=True):
        frames = request.max_audio_length_ms // 80
        assert one_codes.shape == (8, frames)
        assert len(solo_draws.of(request)) == frames
        same = assert_same_speech(solo_draws, batched_draws, request)
        if same is None:
            same = frames
            assert torch.equal(one_codes, many_codes)
            assert len(one) == len(many) == frames * 1920
        assert torch.equal(one_codes[:, :same], many_codes[:, :same])
        np.testing.assert_allclose(many[: same * 1920], one[: same * 1920], rtol=0, atol=1e-4 * np.abs(one).max())
    assert not torch.equal(solo[0][1][:, :6], solo[1][1][:, :6])


@pytest.mark.parametrize("frames", [[5, 9, 5, 9], [9, 5, 5, 9], [5, 5, 5, 9], [9, 5, 9, 5]])
def test_requests_ending_in_the_same_frame_leave_the_others_speaking_as_alone(loaded, frames):
    """Rows freed in one frame, each by moving the last row into it, before the others' backbone step: the
    requests still speaking keep their own codes and caches, and draw as they do alone."""
    engine = Engine(loaded, max_batch=4, max_queue=8)
    texts = ["Alpha speaks here.", "Bravo says more.", "Charlie talks.", "Delta is last."]
    requests = [greedy(text, frames=count) for text, count in zip(texts, frames, strict=True)]
    try:
        with trace(engine) as alone_draws:
            alone = [_speak_alone(engine, request)[1] for request in requests]
        with trace(engine) as among_draws:
            among = [codes for _, codes in speak_together(engine, requests)]  # admitted in one step
    finally:
        engine.close()
    for request, one, many, count in zip(requests, alone, among, frames, strict=True):
        assert one.shape == (8, count)
        same = assert_same_speech(alone_draws, among_draws, request)
        assert torch.equal(one[:, :same], many[:, :same])
    assert not engine.active


def test_first_chunk_is_one_frame_and_cancel_frees_the_row(engine):
    async def run():
        stream = engine.speak(greedy("A long request that will be cancelled.", frames=1000))
        first = await stream.__anext__()
        await stream.aclose()
        deadline = time.monotonic() + 30
        while engine.active and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return first, stream.frames

    first, frames = asyncio.run(run())
    assert len(first) == 1920
    assert not engine.active
    assert frames < 1000


def test_full_queue_is_refused_at_once(loaded):
    engine = Engine(loaded, max_batch=1, max_queue=2)
    try:

        async def run():
            streams = [engine.speak(greedy("Hold the only row.", frames=500))]
            deadline = time.monotonic() + 30
            while engine.busy != 1 or not engine.active:  # the row is taken and the queue empty
                assert time.monotonic() < deadline
                await asyncio.sleep(0.005)
            streams += [engine.speak(greedy("Wait one.")), engine.speak(greedy("Wait two."))]
            with pytest.raises(QueueFull):
                engine.speak(greedy("No room."))
            for stream in streams:
                stream.cancel()

        asyncio.run(run())
    finally:
        engine.close()


def test_long_text_is_spoken_piece_by_piece_with_previous_context(engine):
    async def run():
        stream = engine.speak(greedy("One. Two. Three.", frames=4))
        audio = await stream.read_all()
        return audio, stream.last_segment

    audio, last = asyncio.run(run())
    assert len(audio) == 3 * 4 * 1920
    assert last.text == "Three." and last.codes.shape == (8, 4)


def test_a_prompt_too_long_fails_alone(engine):
    huge = [Segment(0, "x" * 2100, None)]

    async def run():
        doomed = engine.speak(SpeechRequest(text="Hi.", context=huge, max_audio_length_ms=400))
        fine = engine.speak(greedy("Still fine.", frames=3))
        with pytest.raises(ContextOverflow, match="positions"):
            await doomed.read_all()
        return await fine.read_all()

    assert len(asyncio.run(run())) == 3 * 1920
    assert not engine.active


def test_a_cancelled_stream_ends_for_its_readers(engine):
    async def run():
        stream = engine.speak(greedy("Cancelled while someone still reads.", frames=1000))
        await stream.__anext__()
        stream.cancel()
        return [chunk async for chunk in stream]  # would hang if the engine never ended the stream

    rest = asyncio.run(asyncio.wait_for(run(), timeout=30))
    assert len(rest) < 1000


def test_the_previous_segment_is_kept_when_it_fits_and_dropped_when_it_does_not(engine):
    """The one prompt-budget rule: the previous segment stays in the prompt when there is room for the audio
    asked for, and is dropped (rather than the audio cut short) when there is not."""

    def codes(previous: Segment | None) -> torch.Tensor:
        request = greedy("Now it is my turn.", frames=6)
        request.previous = previous

        async def run():
            stream = engine.speak(request)
            await stream.read_all()
            return stream.last_segment.codes

        return asyncio.run(run())

    alone = codes(None)
    fits = Segment(
        0, "What was said before.", torch.randint(0, 64, (8, 30), generator=torch.Generator().manual_seed(1))
    )
    too_long = Segment(0, "Before.", torch.randint(0, 64, (8, engine.generator.max_positions - 10)))
    assert alone.shape == (8, 6)
    assert not torch.equal(codes(fits), alone)  # kept: it changes what follows
    assert torch.equal(codes(too_long), alone)  # dropped: the request speaks as if there were none


def sampled(text: str, *, seed: int | None, frames: int = 10, context=()) -> SpeechRequest:
    return SpeechRequest(
        text=text, context=list(context), temperature=0.9, topk=20, seed=seed, max_audio_length_ms=frames * 80
    )


def _speak_alone(engine: Engine, request: SpeechRequest):
    async def run():
        stream = engine.speak(request)
        return await stream.read_all(), stream.last_segment.codes

    return asyncio.run(run())


def test_a_seed_speaks_the_same_alone_and_among_three_other_requests(loaded):
    """A seeded request's sampled codes and PCM do not depend on the requests beside it: the noise of each row
    is a function of its own seed and frame count, and a seeded row's audio is decoded alone. Its text has two
    pieces (the frame count runs across them); the others end at other frames, so its row moves while it speaks.
    Its logits are those it has alone to float rounding, so the two runs may part only at a near tie
    (tests/speech/engine/draws.py); until there, codes and PCM are bitwise the same."""
    engine = Engine(loaded, max_batch=4, max_queue=4)
    voice = [Segment(5, "A voice sample.", torch.randint(0, 64, (8, 20), generator=torch.Generator().manual_seed(3)))]
    request = sampled("The seeded one. It has two pieces.", seed=1234, context=voice)
    others = [sampled(text, seed=None, frames=frames) for text, frames in (("Another.", 4), ("A third.", 7))]
    others.append(sampled("A fourth, longer one.", seed=None, frames=30))
    try:
        with trace(engine) as alone_draws:
            alone_pcm, alone_codes = _speak_alone(engine, request)

        async def together():
            streams = [engine.speak(others[0]), engine.speak(request), *(engine.speak(o) for o in others[1:])]
            audio = await asyncio.gather(*(stream.read_all() for stream in streams))
            return audio[1], streams[1].last_segment.codes

        with trace(engine) as among_draws:
            among_pcm, among_codes = asyncio.run(together())
    finally:
        engine.close()
    assert alone_codes.shape == (8, 10)
    assert len(alone_pcm) == 2 * 10 * 1920
    same = assert_same_speech(alone_draws, among_draws, request)
    if same is None:
        assert torch.equal(among_codes, alone_codes)
        np.testing.assert_array_equal(among_pcm, alone_pcm)
    else:
        np.testing.assert_array_equal(among_pcm[: same * 1920], alone_pcm[: same * 1920])


def test_other_seeds_and_no_seed_speak_differently(engine):
    text = "Seeds decide the draws."
    first = _speak_alone(engine, sampled(text, seed=1))[1]
    assert torch.equal(_speak_alone(engine, sampled(text, seed=1))[1], first)
    assert not torch.equal(_speak_alone(engine, sampled(text, seed=2))[1], first)
    unseeded = [_speak_alone(engine, sampled(text, seed=None))[1] for _ in range(2)]
    assert not torch.equal(unseeded[0], unseeded[1])


def test_a_frames_audio_leaves_before_the_backbone_takes_the_frame_in(loaded, monkeypatch):
    """On a CPU every op runs in turn: the backbone step after a frame must not stand between its codes and
    its audio, nor between the last audio and the request's end, so the engine delivers a frame's audio (and
    ends a finished request, which then takes no backbone step) first, then advances; a piece's last frame is
    advanced before the next piece's prefill (which starts that row afresh)."""
    from speech.engine.frames import FrameGenerator
    from speech.engine.prefill import Prefiller
    from speech.engine.worker import SpeechStream

    events: list[str] = []

    def record(cls, name: str, event: str) -> None:
        original = getattr(cls, name)

        def recorded(*args, **kwargs):
            events.append(event)
            return original(*args, **kwargs)

        monkeypatch.setattr(cls, name, recorded)

    record(FrameGenerator, "advance", "advance")
    record(SpeechStream, "deliver", "audio")
    record(Prefiller, "run", "prefill")
    record(SpeechStream, "finish", "end")
    engine = Engine(loaded, max_batch=2, max_queue=2)
    try:
        audio = asyncio.run(engine_read(engine, greedy("First piece. Second piece.", frames=3)))
    finally:
        engine.close()
    assert len(audio) == 2 * 3 * 1920
    assert events == [
        "prefill",
        *["audio", "advance"] * 3,
        "prefill",
        *["audio", "advance"] * 2,
        "audio",
        "end",
    ]


async def engine_read(engine: Engine, request: SpeechRequest) -> np.ndarray:
    return await engine.speak(request).read_all()


@pytest.mark.parametrize(
    ("parameters", "device", "cores", "threads"),
    [(200_000, "cpu", 2, 1), (1_500_000_000, "cpu", 2, 2), (1_500_000_000, "cuda", 8, 7), (10**6, "cpu", 1, 1)],
)
def test_a_large_model_on_a_cpu_takes_every_core_and_else_one_is_left_to_the_event_loop(
    monkeypatch, parameters, device, cores, threads
):
    from speech.engine import worker

    monkeypatch.setattr(worker.os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert worker.worker_threads(parameters, device) == threads


def test_the_engine_takes_the_threads_it_is_told(loaded):
    from speech.engine.worker import model_parameters, worker_threads

    before = torch.get_num_threads()
    default = worker_threads(model_parameters(loaded.model), "cpu")
    engine = Engine(loaded, max_batch=1, max_queue=1, threads=default + 1)
    try:
        assert engine.threads == default + 1
    finally:
        engine.close()
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="at least 1"):
        Engine(loaded, max_batch=1, max_queue=1, threads=0)
