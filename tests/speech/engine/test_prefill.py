"""Prefill: the prefix cache of voices' context KV, and the batched prefill of requests starting together."""

import asyncio

import numpy as np
import pytest
import torch

from speech.engine.frames import FrameGenerator
from speech.engine.loading import load_model
from speech.engine.prefill import Prefiller
from speech.engine.prefix_cache import Prefix, PrefixCache, prefix_key
from speech.engine.prompt import PromptBuilder, Segment
from speech.engine.worker import Engine, SpeechRequest
from tests.speech.engine.admission import speak_together

MODEL = "tiny-random float32 cpu"


def _codes(frames: int, seed: int) -> torch.Tensor:
    return torch.randint(0, 64, (8, frames), generator=torch.Generator().manual_seed(seed))


VOICE = [Segment(5, "A voice sample, clear and steady.", _codes(30, 1))]
OTHER_VOICE = [Segment(2, "Someone else entirely.", _codes(12, 2))]
PREVIOUS = Segment(5, "What was said just before.", _codes(9, 3))


@pytest.fixture(scope="module")
def loaded():
    return load_model("tiny-random", device="cpu", dtype="float32")


def _prefix(nbytes: int) -> Prefix:
    keys = torch.zeros(nbytes // 8, dtype=torch.float32)[None, None, :, None]  # [1, 1, n, 1]
    return Prefix(keys, keys.clone())


def _frames(generator: FrameGenerator, hidden: torch.Tensor, count: int = 8) -> torch.Tensor:
    frames = []
    for _ in range(count):
        codes = generator.frame(hidden, **FrameGenerator.greedy_sampling(hidden.shape[0]))
        frames.append(codes)
        hidden = generator.advance(codes)
    return torch.stack(frames, dim=1)


# ---- the cache itself ---------------------------------------------------------------------------------


def test_the_cache_keeps_the_most_recently_used_within_its_budget():
    cache = PrefixCache(max_bytes=3000)
    for key in "abc":
        assert cache.put(key, _prefix(1000))
    assert cache.get("a") is not None  # a is now the most recently used; b the least
    assert cache.put("d", _prefix(1000))
    assert "b" not in cache and {"a", "c", "d"} == {key for key in "abcd" if key in cache}
    assert cache.nbytes == 3000
    assert cache.put("e", _prefix(2000))  # the two least recently used (c, a) leave for one twice their size
    assert len(cache) == 2 and cache.nbytes == 3000 and "d" in cache and "e" in cache
    assert not cache.put("huge", _prefix(4000)) and "huge" not in cache and len(cache) == 2
    assert (cache.hits, cache.misses) == (1, 0)
    assert PrefixCache(max_bytes=0).put("x", _prefix(8)) is False


def test_the_key_is_the_content_and_the_model():
    key = prefix_key(VOICE, MODEL)
    same = [Segment(5, "A voice sample, clear and steady.", _codes(30, 1).to(torch.int32))]
    assert prefix_key(same, MODEL) == key  # another copy of the same codes, even of another integer type
    re_encoded = [Segment(5, VOICE[0].text, _codes(30, 9))]
    for other in (
        prefix_key(re_encoded, MODEL),
        prefix_key([Segment(5, "Another transcript.", VOICE[0].codes)], MODEL),
        prefix_key([Segment(6, VOICE[0].text, VOICE[0].codes)], MODEL),
        prefix_key([Segment(5, VOICE[0].text, None)], MODEL),
        prefix_key([*VOICE, *OTHER_VOICE], MODEL),
        prefix_key(VOICE, "tiny-random bfloat16 cpu"),
    ):
        assert other != key


# ---- exactness ------------------------------------------------------------------------------------------


@torch.no_grad()
def test_a_cached_context_gives_bitwise_the_same_states_as_computing_it(loaded):
    """The context runs as its own block either way, so a row starting from cached KV does the same arithmetic
    as one that computes it: its last hidden state and its greedy codes are bitwise the same, also with a
    streaming session's previous segment after the voice."""
    model, processor = loaded.model, loaded.processor
    builder = PromptBuilder(model, processor)
    assert builder.splits_at_segments()

    def run(cache: PrefixCache, rest: list[Segment]) -> tuple[torch.Tensor, torch.Tensor]:
        generator = FrameGenerator(model, max_batch=2)
        prefiller = Prefiller(generator, builder, cache, model=MODEL, max_rows=2)
        prompt = prefiller.prompt(VOICE, rest)
        assert prompt.context is not None and prompt.start == builder.length(VOICE)
        assert prompt.length == builder.length([*VOICE, *rest])
        hidden = prefiller.run([1], [prompt])
        return hidden, _frames_at(generator, hidden, row=1)

    states = []
    for rest in ([Segment(5, "And then this.")], [PREVIOUS, Segment(5, "And then this.")]):
        cache = PrefixCache(2**20)
        uncached, miss, hit = run(PrefixCache(0), rest), run(cache, rest), run(cache, rest)
        assert (cache.misses, cache.hits, len(cache)) == (1, 1, 1)
        for hidden, codes in (miss, hit):
            assert torch.equal(hidden, uncached[0])
            assert torch.equal(codes, uncached[1])
        states.append(uncached[0])
    assert (states[0] - states[1]).abs().max() > 1e-3  # the previous segment is really in the prompt


def _frames_at(generator: FrameGenerator, hidden: torch.Tensor, *, row: int) -> torch.Tensor:
    """Greedy frames of one row (moved to row 0 first, as the engine keeps its rows packed)."""
    generator.move_row(row, 0)
    return _frames(generator, hidden)


@torch.no_grad()
def test_rows_prefilled_together_speak_as_they_do_alone(loaded):
    """One padded, masked call for prompts of different lengths, starting at different positions (one after a
    cached context, one after a context another row computes in the same call, one without a context), gives
    each row the greedy codes and (to float rounding) the states it has when prefilled alone."""
    model, processor = loaded.model, loaded.processor
    builder = PromptBuilder(model, processor)
    cache = PrefixCache(2**20)
    texts = [
        (VOICE, [Segment(5, "Short.")]),
        (OTHER_VOICE, [PREVIOUS, Segment(2, "A longer one.")]),
        ([], [Segment(1, "No voice at all, just a longer text.")]),
    ]

    def prefill_alone(index: int) -> tuple[torch.Tensor, torch.Tensor]:
        generator = FrameGenerator(model, max_batch=1)
        prefiller = Prefiller(generator, builder, PrefixCache(0), model=MODEL, max_rows=1)
        hidden = prefiller.run([0], [prefiller.prompt(*texts[index])])
        return hidden, _frames(generator, hidden)

    alone = [prefill_alone(index) for index in range(3)]
    warm = Prefiller(FrameGenerator(model, max_batch=1), builder, cache, model=MODEL, max_rows=1)
    warm.run([0], [warm.prompt(*texts[0])])  # the first voice's context is now cached
    generator = FrameGenerator(model, max_batch=4)
    prefiller = Prefiller(generator, builder, cache, model=MODEL, max_rows=4)
    calls = []
    prefill_rows = generator.prefill_rows
    generator.prefill_rows = lambda rows, prompts, **kw: calls.append(len(rows)) or prefill_rows(rows, prompts, **kw)
    prompts = [prefiller.prompt(*text) for text in texts]
    prompts.append(prefiller.prompt(*texts[1]))  # a fourth row shares the second voice's context
    hidden = prefiller.run([0, 1, 2, 3], prompts)
    assert calls == [1, 4]  # the missing context once, then every row together
    codes = _frames(generator, hidden)
    for index in range(3):
        torch.testing.assert_close(hidden[index], alone[index][0][0], rtol=1e-5, atol=1e-5)
        assert torch.equal(codes[index], alone[index][1][0])
    assert torch.equal(codes[3], codes[1])


# ---- the engine -----------------------------------------------------------------------------------------


def _request(text: str, *, context=VOICE, previous=None, frames: int = 6) -> SpeechRequest:
    return SpeechRequest(
        text=text,
        speaker=5,
        context=list(context),
        previous=previous,
        topk=1,
        temperature=1.0,
        max_audio_length_ms=frames * 80,
    )


def _speak_each(engine: Engine, requests: list[SpeechRequest]) -> list[tuple[np.ndarray, torch.Tensor]]:
    async def run():
        results = []
        for request in requests:
            stream = engine.speak(request)
            results.append((await stream.read_all(), stream.last_segment.codes))
        return results

    return asyncio.run(run())


def test_the_engine_speaks_the_same_with_and_without_the_prefix_cache(loaded):
    """Greedy codes and audio are bitwise the same whether a voice's context comes from the cache or not: a
    first request, a second one in the same voice (a hit), a streaming session's second segment (the previous
    segment after the cached context) and a text of several pieces (each piece after the first is a hit)."""
    requests = [
        _request("The first thing."),
        _request("The first thing."),
        _request("The second segment.", previous=PREVIOUS),
        _request("One piece. Another piece.", frames=4),
        _request("No voice.", context=[]),
    ]
    results = {}
    for megabytes in (0, 16):
        engine = Engine(loaded, max_batch=2, max_queue=4, prefix_cache_mb=megabytes)
        try:
            results[megabytes] = _speak_each(engine, requests)
            cache = engine.prefills.cache
            assert (len(cache), cache.hits > 0) == ((1, True) if megabytes else (0, False))
        finally:
            engine.close()
    for (pcm, codes), (cached_pcm, cached_codes) in zip(results[0], results[16], strict=True):
        assert torch.equal(cached_codes, codes)
        np.testing.assert_array_equal(cached_pcm, pcm)


def test_requests_admitted_in_the_same_step_prefill_in_one_call(loaded):
    """Requests waiting when the worker admits start together: one call for their contexts (each voice once)
    and one for the rest of their prompts; each speaks the greedy codes it speaks alone."""
    engine = Engine(loaded, max_batch=4, max_queue=8)
    requests = [_request("First."), _request("Second, same voice."), _request("Third.", context=OTHER_VOICE)]
    try:
        alone = _speak_each(engine, requests)
        engine.prefills.cache = PrefixCache(2**20)  # cold again
        calls = []
        prefill_rows = engine.generator.prefill_rows
        engine.generator.prefill_rows = lambda rows, prompts, **kw: (
            calls.append(len(rows)) or prefill_rows(rows, prompts, **kw)
        )
        batched = speak_together(engine, requests)
    finally:
        engine.close()
    assert calls == [2, 3]
    for (_, one), (_, many) in zip(alone, batched, strict=True):
        assert torch.equal(many, one)
