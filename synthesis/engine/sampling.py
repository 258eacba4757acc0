"""Temperature + top-k sampling, per row, never returning an id the codec cannot decode.

Free of host syncs and data-dependent shapes (a stable sort, a rank mask and the Gumbel-max trick),
so it can sit inside a compiled or graph-captured step.
"""

from __future__ import annotations

import torch


def sample(
    logits: torch.Tensor,
    *,
    temperature: torch.Tensor,
    topk: torch.Tensor,
    decodable: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """logits [rows, vocab] -> ids [rows]. Ids >= `decodable` are never chosen.

    A row with top-k 1 is exactly greedy (argmax, first index on ties); temperature 0 is greedy too.
    """
    logits = logits[:, :decodable].float()
    values, indices = logits.sort(dim=-1, descending=True, stable=True)
    greedy = (temperature <= 0)[:, None]
    keep = torch.arange(values.shape[-1], device=logits.device)[None] < torch.where(greedy, 1, topk[:, None])
    scaled = values.masked_fill(~keep, float("-inf")) / temperature.clamp_min(1e-5)[:, None]
    noise = torch.empty_like(scaled).exponential_(generator=generator)
    choice = (scaled - noise.log()).argmax(dim=-1, keepdim=True)  # Gumbel-max: a draw from softmax(scaled)
    return indices.gather(1, choice)[:, 0]
