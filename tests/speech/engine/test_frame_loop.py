"""Our frame loop against transformers' generate(), on the tiny model with a voice-context prompt."""

import numpy as np
import pytest
import torch

from speech.engine.frames import FrameGenerator
from speech.engine.prompt import PromptBuilder, Segment
from speech.engine.sampling import SEED_MAX, Sampler, child_seed, gumbel_noise, mix32, noise_counters
from speech.engine.tiny import build_tiny_model

FRAMES = 12


@pytest.fixture(scope="module")
def tiny():
    # Vocabulary == codebook size, so generate() can never pick an id our loop masks.
    return build_tiny_model(seed=1, undecodable_ids=0)


def _voice_prompt(model, processor):
    rng = np.random.default_rng(0)
    sample = (rng.standard_normal(24_000 * 2) * 0.1).astype(np.float32)
    codes = model.codec_model.encode(torch.from_numpy(sample)[None, None]).audio_codes[0]
    assert codes.shape[-1] == 25 and codes.any(), "the voice context must be real, non-zero codes"
    segments = [Segment(3, "A voice sample, clear and steady.", codes), Segment(3, "Say something new.")]
    conversation = [
        {"role": "3", "content": [{"type": "text", "text": segments[0].text}, {"type": "audio", "audio": sample}]},
        {"role": "3", "content": [{"type": "text", "text": segments[1].text}]},
    ]
    return segments, processor.apply_chat_template(conversation, tokenize=True, return_dict=True)


@torch.no_grad()
def test_greedy_loop_reproduces_generate_exactly(tiny):
    model, processor = tiny
    segments, inputs = _voice_prompt(model, processor)
    reference = model.generate(
        **inputs,
        do_sample=False,
        depth_decoder_do_sample=False,
        max_new_tokens=FRAMES,
        return_dict_in_generate=True,
        output_logits=True,
    )

    builder = PromptBuilder(model, processor)
    assert builder.token_ids(segments) == inputs["input_ids"][0].tolist()
    generator = FrameGenerator(model, max_batch=2)
    hidden = generator.prefill(0, builder.embeddings(segments))
    greedy = FrameGenerator.greedy_sampling(1)
    frames = []
    for step in range(FRAMES):
        torch.testing.assert_close(model.lm_head(hidden), reference.logits[step], rtol=1e-5, atol=1e-5)
        codes = generator.frame(hidden, **greedy)
        frames.append(codes[0])
        hidden = generator.advance(codes)

    assert torch.equal(torch.stack(frames), reference.sequences[0])


@torch.no_grad()
def test_rows_in_a_batch_match_rows_alone(tiny):
    model, processor = tiny
    builder = PromptBuilder(model, processor)
    prompts = [[Segment(0, "First request.")], [Segment(1, "A second, longer request text.")]]

    def run(generator, rows):
        hidden = torch.cat([generator.prefill(row, builder.embeddings(prompts[p])) for row, p in enumerate(rows)])
        out = []
        for _ in range(6):
            n = hidden.shape[0]
            codes = generator.frame(hidden, **FrameGenerator.greedy_sampling(n))
            out.append(codes)
            hidden = generator.advance(codes)
        return torch.stack(out, dim=1)

    alone = [run(FrameGenerator(model, max_batch=1), [p])[0] for p in range(2)]
    together = run(FrameGenerator(model, max_batch=2), [0, 1])
    assert torch.equal(together[0], alone[0])
    assert torch.equal(together[1], alone[1])


def _noise(rows: int, vocab: int, *, seed: int = 0, frame: int = 0) -> torch.Tensor:
    seeds, frames = torch.full((rows,), seed), torch.full((rows,), frame)
    return gumbel_noise(seeds, frames, noise_counters(1, vocab))


def test_sampling_never_returns_undecodable_ids():
    logits = torch.full((4, 10), -5.0)
    logits[:, 8:] = 50.0  # the codec cannot decode ids 8 and 9, and they are the model's favourites
    sample = Sampler(
        temperature=torch.full((4,), 1.0), topk=torch.tensor([1, 3, 8, 50]), noise=_noise(4, 8), decodable=8
    )
    assert (sample(logits, 0) < 8).all()


def test_sampling_respects_each_rows_top_k_and_greedy_rows():
    logits = torch.arange(20.0).repeat(3, 1)  # id 19 best, then 18, ...
    seen = [set() for _ in range(3)]
    for frame in range(200):
        sample = Sampler(
            temperature=torch.tensor([1.0, 5.0, 0.0]),
            topk=torch.tensor([1, 3, 10]),
            noise=_noise(3, 20, frame=frame),
            decodable=20,
        )
        for row, value in enumerate(sample(logits, 0).tolist()):
            seen[row].add(value)
    assert seen[0] == {19}  # top-k 1: greedy
    assert seen[1] == {17, 18, 19}  # top-3 at a high temperature: all three, nothing else
    assert seen[2] == {19}  # temperature 0: greedy


def test_seeded_draws_follow_the_softmax():
    """The hashed noise samples softmax(logits / temperature): over 100 seeds x 100 frames, each id about as
    often as its probability says (a bound of five standard deviations)."""
    logits = torch.tensor([2.0, 1.0, 0.5, 0.0, -1.0]).expand(100, 5)
    sample = Sampler(temperature=torch.full((100,), 0.8), topk=torch.full((100,), 5), noise=None, decodable=5)
    draws = []
    for frame in range(100):
        sample.noise = gumbel_noise(torch.arange(100), torch.full((100,), frame), noise_counters(1, 5))
        draws.append(sample(logits, 0))
    counts = torch.bincount(torch.cat(draws), minlength=5).float()
    expected = torch.softmax(logits[0] / 0.8, dim=0) * counts.sum()
    assert ((counts - expected).abs() < 5 * expected.sqrt()).all(), (counts, expected)


def test_noise_is_a_function_of_seed_frame_codebook_and_id():
    counters = noise_counters(4, 50)
    base = gumbel_noise(torch.tensor([5, 5, 6]), torch.tensor([0, 1, 0]), counters)
    again = gumbel_noise(torch.tensor([9, 6, 5]), torch.tensor([3, 0, 0]), counters)  # other rows beside it
    assert torch.equal(base[2], again[1]) and torch.equal(base[0], again[2])
    assert not torch.equal(base[0], base[1]) and not torch.equal(base[0], base[2])  # another frame, another seed
    assert not torch.equal(base[0, 0], base[0, 1])  # another codebook
    assert base.isfinite().all()
    # The hash on Python ints (child seeds) and on tensors agree, and stays within 32 bits.
    values = torch.tensor([0, 1, 2**31, 2**32 - 1])
    assert mix32(values).tolist() == [mix32(v) for v in values.tolist()]
    assert all(0 <= mix32(v) <= SEED_MAX for v in values.tolist())
    assert child_seed(42, 0) != child_seed(42, 1) != child_seed(43, 1)


def test_end_rule_is_generates():
    model, _ = build_tiny_model()
    generator = FrameGenerator(model, max_batch=1)
    frames = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 5], [0, 0, 0, 0, 0, 0, 1, 0], [0] * 8])
    assert generator.is_end(frames).tolist() == [True, False, True]


@torch.no_grad()
def test_bucketed_steps_match_direct_steps(tiny):
    """The CUDA-graph path pads n rows to a batch bucket and the backbone's attended length to a span
    bucket; run eagerly on CPU it must give the same codes as the direct steps, also while a row crosses a
    span boundary (256) and after a row leaves."""
    from speech.engine.graphs import batch_buckets

    model, processor = tiny
    assert batch_buckets(12) == [1, 2, 4, 8, 12]
    builder = PromptBuilder(model, processor)
    prompts = [
        builder.embeddings([Segment(0, "x" * length)]) for length in (20, 240, 90)
    ]  # the second crosses 256 positions
    assert 240 < prompts[1].shape[1] < 256

    def run(generator):
        hidden = torch.cat([generator.prefill(row, prompt) for row, prompt in enumerate(prompts)])
        frames, states = [], []
        for step in range(24):
            if step == 12:  # the first request leaves: the last row moves into its place
                generator.move_row(2, 0)
                hidden = hidden[[2, 1]]
            rows = hidden.shape[0]
            codes = generator.frame(hidden, **FrameGenerator.greedy_sampling(rows))
            hidden = generator.advance(codes)
            frames.append(codes[:2])
            states.append(hidden[:2])
        return torch.stack(frames), torch.stack(states)

    direct = FrameGenerator(model, max_batch=6, cuda_graphs=False)
    bucketed = FrameGenerator(model, max_batch=6, cuda_graphs=True)  # buckets 1, 2, 4, 6: 3 rows run as 4
    assert direct.backbone_graphs is None and bucketed.backbone_graphs is not None
    direct_codes, direct_states = run(direct)
    bucketed_codes, bucketed_states = run(bucketed)
    assert bucketed.lengths[1] > 256
    assert torch.equal(bucketed_codes, direct_codes)
    torch.testing.assert_close(bucketed_states, direct_states, rtol=1e-5, atol=1e-5)
