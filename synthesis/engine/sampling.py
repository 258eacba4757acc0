"""Temperature + top-k sampling, per row, never returning an id the codec cannot decode."""

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

    A row is greedy (argmax) when its top-k is 1 or its temperature is 0.
    """
    logits = logits[:, :decodable].float()
    greedy_ids = logits.argmax(dim=-1)
    greedy = (topk <= 1) | (temperature <= 0)
    if bool(greedy.all()):
        return greedy_ids
    k = min(int(topk.max()), decodable)
    values, indices = logits.topk(k, dim=-1)
    beyond_k = torch.arange(k, device=logits.device)[None] >= topk[:, None]
    values = values.masked_fill(beyond_k, float("-inf")) / temperature.clamp_min(1e-5)[:, None]
    choice = torch.multinomial(torch.softmax(values, dim=-1), 1, generator=generator)
    return torch.where(greedy, greedy_ids, indices.gather(1, choice)[:, 0])
