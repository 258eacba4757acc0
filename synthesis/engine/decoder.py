"""A Llama decoder stack run over preallocated KV caches, gpt-fast style.

`StaticDecoder` borrows the layers (weights) of a transformers CSM decoder model and runs them with
its own attention over a fixed cache of `max_batch` rows, each row a request at its own position.
No transformers cache objects, masks or hooks run in the hot loop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class StaticDecoder:
    """The layers and final norm of a CSM backbone or depth decoder, over a [rows, heads, positions, dim] cache."""

    def __init__(self, model: nn.Module, *, max_batch: int, max_positions: int) -> None:
        config = model.config
        self.layers = list(model.layers)
        self.norm = model.norm
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.max_positions = max_positions
        param = next(model.parameters())
        shape = (len(self.layers), max_batch, self.num_kv_heads, max_positions, self.head_dim)
        self.keys = torch.zeros(shape, dtype=param.dtype, device=param.device)
        self.values = torch.zeros(shape, dtype=param.dtype, device=param.device)
        positions = torch.arange(max_positions, device=param.device)[None]
        probe = torch.zeros(1, dtype=param.dtype, device=param.device)
        cos, sin = model.rotary_emb(probe, position_ids=positions)
        self.cos, self.sin = cos[0], sin[0]  # [positions, head_dim]

    def _project(self, attn: nn.Module, x: torch.Tensor, positions: torch.Tensor):
        rows, length, _ = x.shape
        q = attn.q_proj(x).view(rows, length, self.num_heads, self.head_dim).transpose(1, 2)
        k = attn.k_proj(x).view(rows, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        v = attn.v_proj(x).view(rows, length, self.num_kv_heads, self.head_dim).transpose(1, 2)
        cos = self.cos[positions].unsqueeze(1)  # [rows, 1, length, head_dim]
        sin = self.sin[positions].unsqueeze(1)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        return q, k, v

    def _layer(self, index: int, x: torch.Tensor, attend) -> torch.Tensor:
        layer = self.layers[index]
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        out = attend(index, attn, h)
        rows, length = x.shape[:2]
        x = x + attn.o_proj(out.transpose(1, 2).reshape(rows, length, -1))
        return x + layer.mlp(layer.post_attention_layernorm(x))

    def prefill(self, x: torch.Tensor, *, start: int = 0, row: int = 0) -> torch.Tensor:
        """Positions start..start+len for rows row..row+n (x: [n, len, hidden]), all rows at the same positions,
        causal within the block; returns the normed hidden states."""
        rows, length = x.shape[:2]
        end = start + length
        positions = torch.arange(start, end, device=x.device)
        mask = None
        if start and length > 1:
            mask = torch.arange(end, device=x.device)[None] <= positions[:, None]

        def attend(index: int, attn: nn.Module, h: torch.Tensor) -> torch.Tensor:
            q, k, v = self._project(attn, h, positions[None])
            self.keys[index, row : row + rows, :, start:end] = k
            self.values[index, row : row + rows, :, start:end] = v
            keys = self.keys[index, row : row + rows, :, :end]
            values = self.values[index, row : row + rows, :, :end]
            return F.scaled_dot_product_attention(
                q,
                keys,
                values,
                attn_mask=mask,
                is_causal=start == 0 and length > 1,
                scale=attn.scaling,
                enable_gqa=True,
            )

        for index in range(len(self.layers)):
            x = self._layer(index, x, attend)
        return self.norm(x)

    def step(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """One position for rows 0..n-1 (x: [n, 1, hidden]), row i at positions[i]; returns normed hidden states."""
        rows = x.shape[0]
        span = int(positions.max()) + 1
        row_index = torch.arange(rows, device=x.device)
        mask = (torch.arange(span, device=x.device)[None] <= positions[:, None])[:, None, None, :]

        def attend(index: int, attn: nn.Module, h: torch.Tensor) -> torch.Tensor:
            q, k, v = self._project(attn, h, positions[:, None])
            self.keys[index, row_index, :, positions] = k[:, :, 0]
            self.values[index, row_index, :, positions] = v[:, :, 0]
            keys = self.keys[index, :rows, :, :span]
            values = self.values[index, :rows, :, :span]
            return F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=attn.scaling, enable_gqa=True)

        for index in range(len(self.layers)):
            x = self._layer(index, x, attend)
        return self.norm(x)

    def move_row(self, source: int, target: int) -> None:
        """Copy one row's cache into another (keeps active rows packed at the front)."""
        self.keys[:, target] = self.keys[:, source]
        self.values[:, target] = self.values[:, source]
