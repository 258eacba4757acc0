"""Temperature + top-k sampling, per row, never returning an id the codec cannot decode; reproducible by seed.

Free of host syncs and data-dependent shapes (a stable sort, a rank mask and the Gumbel-max trick),
so it can sit inside a compiled or graph-captured step. The Gumbel noise is not drawn from a generator:
it is a counter-based hash of (seed, frame, codebook, token id), so a row's draws depend on its own seed
and frame count only, never on which other rows share the batch, and no generator state is kept per row.
"""

from __future__ import annotations

import torch

# The sampling a request gets when it asks for none: every endpoint and model field takes these.
DEFAULT_TEMPERATURE = 0.6
DEFAULT_TOPK = 20

SEED_MAX = 2**32 - 1
"""Seeds are 32-bit: 0..SEED_MAX."""

_MASK = 0xFFFFFFFF
_SEED_SALT, _FRAME_SALT, _COUNTER_SALT, _CHILD_SALT = 0x5EED5EED, 0x0F4A3E00, 0x00C0DEB0, 0x6A09E667


def mix32(x):
    """A 32-bit integer hash (a bijection with strong avalanche; Wellons' lowbias32 constants) of a Python int
    or an int64 tensor holding values in 0..2**32-1. Every product stays below 2**63, so no operation
    overflows and CPU and GPU agree bit for bit."""
    x = x ^ (x >> 16)
    x = (x * 0x21F0AAAD) & _MASK
    x = x ^ (x >> 15)
    x = (x * 0x735A2D97) & _MASK
    return x ^ (x >> 15)


def child_seed(seed: int, index: int) -> int:
    """The seed of the `index`-th part of something seeded with `seed` (a streaming session's segments)."""
    return mix32(mix32(seed ^ _CHILD_SALT) ^ mix32(index & _MASK))


def noise_counters(num_codebooks: int, vocab: int, *, device: torch.device | str = "cpu") -> torch.Tensor:
    """The hashed counter of every (codebook, token id): [codebooks, vocab], computed once per generator."""
    codebook = torch.arange(num_codebooks, device=device)[:, None]
    token = torch.arange(vocab, device=device)[None]
    return mix32((codebook << 16 | token) ^ _COUNTER_SALT)


def gumbel_noise(seed: torch.Tensor, frame: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """Standard Gumbel noise for rows with these seeds [rows] at these frame indices [rows] (int64 each), for
    every (codebook, token id) of `counters`: [rows, codebooks, vocab] float32, a pure function of its inputs."""
    key = mix32(mix32(seed ^ _SEED_SALT) ^ mix32(frame ^ _FRAME_SALT))
    bits = mix32(key[:, None, None] ^ counters)
    uniform = ((bits >> 8).float() + 0.5) * 2.0**-24  # 24 bits, strictly inside (0, 1)
    return -(-uniform.log()).log()


class Sampler:
    """The settings of rows [rows] prepared once (a frame samples every codebook with them).

    A row with top-k 1 is exactly greedy (argmax, first index on ties); temperature 0 is greedy too.
    Ids >= `decodable` are never chosen. `noise` [rows, codebooks, >= decodable] is `gumbel_noise` for the
    rows' seeds and frame.
    """

    def __init__(self, *, temperature: torch.Tensor, topk: torch.Tensor, noise: torch.Tensor, decodable: int) -> None:
        self.decodable = decodable
        self.keep = torch.where(temperature <= 0, 1, topk)[:, None]  # how many of the best ids stay
        self.ranks = torch.arange(decodable, device=temperature.device)[None]
        self.temperature = temperature.clamp_min(1e-5)[:, None]
        self.noise = noise

    def __call__(self, logits: torch.Tensor, codebook: int) -> torch.Tensor:
        """logits [rows, vocab] of one codebook -> ids [rows]."""
        values, indices = logits[:, : self.decodable].float().sort(dim=-1, descending=True, stable=True)
        scaled = values.masked_fill(self.ranks >= self.keep, float("-inf")) / self.temperature
        noise = self.noise[:, codebook].gather(1, indices)  # each id keeps its own noise wherever it ranks
        choice = (scaled + noise).argmax(dim=-1, keepdim=True)  # Gumbel-max: a draw from softmax(scaled)
        return indices.gather(1, choice)[:, 0]
