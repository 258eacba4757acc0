"""Temperature + top-k sampling, per row, never returning an id the codec cannot decode.

Free of host syncs and data-dependent shapes (a stable sort, a rank mask and the Gumbel-max trick),
so it can sit inside a compiled or graph-captured step.
"""

from __future__ import annotations

import torch

# The sampling a request gets when it asks for none: every endpoint and model field takes these.
DEFAULT_TEMPERATURE = 0.6
DEFAULT_TOPK = 20


class Sampler:
    """The settings of rows [rows] prepared once (a frame samples every codebook with them).

    A row with top-k 1 is exactly greedy (argmax, first index on ties); temperature 0 is greedy too.
    Ids >= `decodable` are never chosen.
    """

    def __init__(self, *, temperature: torch.Tensor, topk: torch.Tensor, decodable: int) -> None:
        self.decodable = decodable
        self.keep = torch.where(temperature <= 0, 1, topk)[:, None]  # how many of the best ids stay
        self.ranks = torch.arange(decodable, device=temperature.device)[None]
        self.temperature = temperature.clamp_min(1e-5)[:, None]

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """logits [rows, vocab] -> ids [rows]."""
        values, indices = logits[:, : self.decodable].float().sort(dim=-1, descending=True, stable=True)
        scaled = values.masked_fill(self.ranks >= self.keep, float("-inf")) / self.temperature
        noise = torch.empty_like(scaled).exponential_()
        choice = (scaled - noise.log()).argmax(dim=-1, keepdim=True)  # Gumbel-max: a draw from softmax(scaled)
        return indices.gather(1, choice)[:, 0]
