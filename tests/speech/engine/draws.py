"""What the engine's sampler saw and chose, per request: to compare one request's speech across two runs.

A request batched with others does the arithmetic it does alone up to float rounding: a CPU matrix product's row
rounds differently with 1, 2-3 or 4+ rows in the product, and the backbone step attends over the longest row's
span. So its greedy (or seeded) codes are the same alone and among others until, rarely, two candidates are within
rounding of each other and the runs part there. `assert_same_speech` accepts exactly that: the logits agree within
rounding at every draw up to the parting, and, at the parting, the row's own sampling settings turn each run's
logits into that run's code, so nothing but the logits' rounding made them differ. Wrong state (a moved row's
cache, a position off by one, another row's noise) changes logits far beyond rounding, or the codes without them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from speech.engine import frames as frames_module
from speech.engine.sampling import Sampler, gumbel_noise
from speech.engine.worker import Engine, SpeechRequest

ROUNDING = 1e-5
"""How far two runs' logits may be apart: tiny-random's are below 1 and differ between batch shapes by about 2e-7,
while wrong state moves them far more (a position id off by one, about 5e-4)."""


@dataclass
class Draw:
    """One codebook of one frame of one request: the logits the sampler got, the code it chose, and the row's
    sampling settings."""

    logits: torch.Tensor  # [decodable] float32
    code: int
    codebook: int
    settings: dict[str, torch.Tensor]  # temperature, topk, seed, frame_index: one value each

    def choose(self, logits: torch.Tensor, counters: torch.Tensor) -> int:
        """The code this row's sampling settings draw from `logits` at this codebook."""
        noise = gumbel_noise(self.settings["seed"], self.settings["frame_index"], counters)
        sample = Sampler(
            temperature=self.settings["temperature"],
            topk=self.settings["topk"],
            noise=noise,
            decodable=logits.shape[-1],
        )
        return int(sample(logits[None], self.codebook)[0])


@dataclass
class Trace:
    """Every draw of every request an engine served while tracing: frames[request] is a list of frames, each the
    list of its codebooks' draws."""

    counters: torch.Tensor
    frames: dict[int, list[list[Draw]]] = field(default_factory=dict)

    def of(self, request: SpeechRequest) -> list[list[Draw]]:
        return self.frames[id(request)]


@contextlib.contextmanager
def trace(engine: Engine) -> Iterator[Trace]:
    """Records the draws of the engine's frames while the block runs (the direct steps: a CPU engine's)."""
    generator = engine.generator
    assert generator.depth_graphs is None, "tracing needs the direct steps"
    record = Trace(counters=generator.counters)
    calls: list[tuple[int, torch.Tensor, torch.Tensor]] = []

    class RecordingSampler(Sampler):
        def __call__(self, logits: torch.Tensor, codebook: int) -> torch.Tensor:
            codes = super().__call__(logits, codebook)
            calls.append((codebook, logits[:, : self.decodable].float().clone(), codes.clone()))
            return codes

    frame = generator.frame

    def traced_frame(hidden: torch.Tensor, **sampling: torch.Tensor) -> torch.Tensor:
        requests = [active.stream.request for active in engine.active[: hidden.shape[0]]]
        calls.clear()
        codes = frame(hidden, **sampling)
        for row, request in enumerate(requests):
            settings = {name: values[row : row + 1].clone() for name, values in sampling.items()}
            draws = [Draw(logits[row], int(chosen[row]), codebook, settings) for codebook, logits, chosen in calls]
            record.frames.setdefault(id(request), []).append(draws)
        return codes

    original_sampler = frames_module.Sampler
    frames_module.Sampler = RecordingSampler
    generator.frame = traced_frame
    try:
        yield record
    finally:
        frames_module.Sampler = original_sampler
        del generator.frame  # the instance attribute; the class's method serves again


def assert_same_speech(alone: Trace, among: Trace, request: SpeechRequest, *, atol: float = ROUNDING) -> int | None:
    """Asserts the request drew alike in both runs: every draw's logits within `atol` and the same code, up to a
    parting that rounding alone explains (see the module's docstring). Returns the frame where the codes part, or
    None when they never do (then both runs drew the same number of frames)."""
    solo, batched = alone.of(request), among.of(request)
    for index, (one_frame, other_frame) in enumerate(zip(solo, batched)):  # noqa: B905 - they may end apart
        assert len(one_frame) == len(other_frame)
        for one, other in zip(one_frame, other_frame, strict=True):
            torch.testing.assert_close(other.logits, one.logits, rtol=0, atol=atol)
            if one.code == other.code:
                continue
            # Parted: the batched row's own settings turn each run's logits into that run's code.
            assert other.choose(one.logits, among.counters) == one.code, f"frame {index}: settings differ"
            assert other.choose(other.logits, among.counters) == other.code, f"frame {index}: sampling differs"
            return index
    assert len(solo) == len(batched)
    return None
