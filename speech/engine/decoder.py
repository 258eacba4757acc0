"""A Llama decoder stack run over preallocated KV caches, gpt-fast style.

`StaticDecoder` takes the weights of a transformers CSM decoder model (fusing q/k/v and gate/up into
one matrix each) and runs them with its own attention over a fixed cache of `max_batch` rows, each
row a request at its own position. No modules, cache objects, masks or hooks of transformers run in
the hot loop: a layer is a handful of tensor ops.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


@dataclass
class _Layer:
    attn_norm: torch.Tensor
    qkv: torch.Tensor  # [q + k + v, hidden]
    out: torch.Tensor
    mlp_norm: torch.Tensor
    gate_up: torch.Tensor  # [2 * intermediate, hidden]
    down: torch.Tensor


class StaticDecoder:
    """The layers and final norm of a CSM backbone or depth decoder, over a [rows, heads, positions, dim] cache."""

    def __init__(self, model: nn.Module, *, max_batch: int, max_positions: int) -> None:
        config = model.config
        if config.hidden_act != "silu" or config.attention_bias or config.mlp_bias:
            raise ValueError("StaticDecoder supports Llama-style layers: SiLU MLP, no biases")
        self.num_heads = config.num_attention_heads
        self.num_kv_heads = config.num_key_value_heads
        self.head_dim = config.head_dim
        self.eps = config.rms_norm_eps
        self.scale = self.head_dim**-0.5
        self.layers = [
            _Layer(
                attn_norm=layer.input_layernorm.weight,
                qkv=torch.cat(
                    [layer.self_attn.q_proj.weight, layer.self_attn.k_proj.weight, layer.self_attn.v_proj.weight]
                ),
                out=layer.self_attn.o_proj.weight,
                mlp_norm=layer.post_attention_layernorm.weight,
                gate_up=torch.cat([layer.mlp.gate_proj.weight, layer.mlp.up_proj.weight]),
                down=layer.mlp.down_proj.weight,
            )
            for layer in model.layers
        ]
        self.norm = model.norm.weight
        self.max_positions = max_positions
        param = self.norm
        shape = (len(self.layers), max_batch, self.num_kv_heads, max_positions, self.head_dim)
        self.keys = torch.zeros(shape, dtype=param.dtype, device=param.device)
        self.values = torch.zeros(shape, dtype=param.dtype, device=param.device)
        self.positions = torch.arange(max_positions, device=param.device)
        probe = torch.zeros(1, dtype=param.dtype, device=param.device)
        cos, sin = model.rotary_emb(probe, position_ids=self.positions[None])
        self.cos, self.sin = cos[0], sin[0]  # [positions, head_dim]
        self.block_cos, self.block_sin = cos[:, :, None], sin[:, :, None]  # [1, positions, 1, head_dim]

    def _rms_norm(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        """CsmRMSNorm: normalise in float32, cast back, then scale."""
        x32 = x.float()
        return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype)

    def _rotary(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin for positions [rows or 1, length], shaped [rows or 1, length, 1, head_dim]: looked up
        once per call, shared by every layer."""
        return self.cos[positions].unsqueeze(2), self.sin[positions].unsqueeze(2)

    def _layer(self, layer: _Layer, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], attend) -> torch.Tensor:
        rows, length, _ = x.shape
        qkv = F.linear(self._rms_norm(x, layer.attn_norm), layer.qkv)
        qkv = qkv.view(rows, length, self.num_heads + 2 * self.num_kv_heads, self.head_dim)
        rotated = self.num_heads + self.num_kv_heads
        qk, v = qkv[:, :, :rotated], qkv[:, :, rotated:]
        cos, sin = rotary
        qk = qk * cos + _rotate_half(qk) * sin  # queries and keys rotated together
        q, k = qk[:, :, : self.num_heads].transpose(1, 2), qk[:, :, self.num_heads :].transpose(1, 2)
        out = attend(q, k, v.transpose(1, 2)).transpose(1, 2).reshape(rows, length, -1)
        x = x + F.linear(out, layer.out)
        gate, up = F.linear(self._rms_norm(x, layer.mlp_norm), layer.gate_up).chunk(2, dim=-1)
        return x + F.linear(F.silu(gate) * up, layer.down)

    def prefill(self, x: torch.Tensor, *, start: int = 0, row: int = 0) -> torch.Tensor:
        """Positions start..start+len for rows row..row+n (x: [n, len, hidden]), all rows at the same positions,
        causal within the block; returns the normed hidden states."""
        rows, length = x.shape[:2]
        end = start + length
        positions = self.positions[start:end]
        mask = None
        if start and length > 1:
            mask = self.positions[:end][None] <= positions[:, None]
        causal = start == 0 and length > 1
        rotary = self.block_cos[:, start:end], self.block_sin[:, start:end]
        for index, layer in enumerate(self.layers):
            keys, values = self.keys[index, row : row + rows], self.values[index, row : row + rows]

            def attend(q, k, v, keys=keys, values=values):
                keys[:, :, start:end] = k
                values[:, :, start:end] = v
                return F.scaled_dot_product_attention(
                    q,
                    keys[:, :, :end],
                    values[:, :, :end],
                    attn_mask=mask,
                    is_causal=causal,
                    scale=self.scale,
                    enable_gqa=True,
                )

            x = self._layer(layer, x, rotary, attend)
        return self._rms_norm(x, self.norm)

    def prefill_rows(self, x: torch.Tensor, *, rows: list[int], starts: list[int], lengths: list[int]) -> torch.Tensor:
        """Prompts of several rows in one call: row rows[i] takes x[i, :lengths[i]] at positions starts[i]..,
        attending to its own cache before starts[i] (a prefix already there) and causally within the block.
        x ([n, width, hidden]) is right-padded; padded positions are masked out of every real position's
        attention and never written to the cache, so they cannot change any row's result. Returns the normed
        hidden states [n, width, hidden] (padded positions hold garbage)."""
        count, width = x.shape[:2]
        device = x.device
        offsets = torch.arange(width, device=device)
        positions = torch.tensor(starts, device=device)[:, None] + offsets  # [n, width]
        valid = offsets[None] < torch.tensor(lengths, device=device)[:, None]
        row_index = torch.tensor(rows, device=device)
        write_rows, write_positions = row_index[:, None].expand(count, width)[valid], positions[valid]
        end = max(start + length for start, length in zip(starts, lengths, strict=True))
        # Right padding keeps every real position's view causal: from position 0 a causal block needs no mask
        # (the fastest kernels); after a prefix, rows at one start share one mask (faster than one per row).
        mask, causal = None, width > 1
        if any(starts):
            shared = len(set(starts)) == 1
            mask = (self.positions[:end][None, None] <= positions[: 1 if shared else count, :, None])[:, None]
            causal = False
        rotary = self._rotary(positions.clamp(max=self.max_positions - 1))  # padding may run past the end
        contiguous = rows == list(range(rows[0], rows[0] + count))
        for index, layer in enumerate(self.layers):

            def attend(q, k, v, index=index):
                self.keys[index, write_rows, :, write_positions] = k.transpose(1, 2)[valid]
                self.values[index, write_rows, :, write_positions] = v.transpose(1, 2)[valid]
                if contiguous:  # a view; any other set of rows is gathered
                    keys = self.keys[index, rows[0] : rows[0] + count, :, :end]
                    values = self.values[index, rows[0] : rows[0] + count, :, :end]
                else:
                    keys, values = self.keys[index][row_index, :, :end], self.values[index][row_index, :, :end]
                return F.scaled_dot_product_attention(
                    q, keys, values, attn_mask=mask, is_causal=causal, scale=self.scale, enable_gqa=True
                )

            x = self._layer(layer, x, rotary, attend)
        return self._rms_norm(x, self.norm)

    def read_prefix(self, row: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A copy of a row's cache at positions 0..length: keys and values [layers, kv_heads, length, dim]."""
        return self.keys[:, row, :, :length].clone(), self.values[:, row, :, :length].clone()

    def write_prefix(self, row: int, keys: torch.Tensor, values: torch.Tensor) -> None:
        """Puts a prefix read by `read_prefix` at positions 0.. of a row."""
        length = keys.shape[2]
        self.keys[:, row, :, :length] = keys
        self.values[:, row, :, :length] = values

    def step(self, x: torch.Tensor, positions: torch.Tensor, *, span: int) -> torch.Tensor:
        """One position for rows 0..n-1 (x: [n, 1, hidden]), row i at positions[i] < span, attending to cache
        positions < span; returns normed hidden states. Free of host syncs, so it can be graph-captured."""
        rows = x.shape[0]
        row_index = torch.arange(rows, device=x.device)
        mask = (self.positions[:span][None] <= positions[:, None])[:, None, None, :]
        rotary = self._rotary(positions[:, None])
        for index, layer in enumerate(self.layers):

            def attend(q, k, v, index=index):
                self.keys[index, row_index, :, positions] = k[:, :, 0]
                self.values[index, row_index, :, positions] = v[:, :, 0]
                keys = self.keys[index, :rows, :, :span]
                values = self.values[index, :rows, :, :span]
                return F.scaled_dot_product_attention(
                    q, keys, values, attn_mask=mask, scale=self.scale, enable_gqa=True
                )

            x = self._layer(layer, x, rotary, attend)
        return self._rms_norm(x, self.norm)

    def move_row(self, source: int, target: int) -> None:
        """Copy one row's cache into another (keeps active rows packed at the front)."""
        self.keys[:, target] = self.keys[:, source]
        self.values[:, target] = self.values[:, source]
