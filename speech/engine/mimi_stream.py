"""Stateful, frame-by-frame decoding of Mimi codes.

transformers' `MimiModel.decode` keeps no convolution state, so decoding a stream one frame at a time with it
produces clicks at every frame boundary. `MimiStreamDecoder` runs the same modules (and weights) of
`codec.decoder` but carries, between calls:

- the overlap tail of every transposed convolution (the upsampler and the SEANet upsampling layers),
- the last `(kernel - 1) * dilation` input samples of every causal convolution,
- the keys and values of the decoder transformer's last `sliding_window - 1` steps.

With these, the concatenated outputs of successive `decode` calls equal a one-shot decode of all the codes,
and each frame's samples are final as soon as the frame is decoded (Mimi's decoder has no lookahead).

Batch rows are independent slots, each with its own stream position: `decode(codes, rows=...)` advances only
some of them (the engine decodes, in one batch, the rows that produced a frame), and `reset_rows` restarts some
(a new request taking a slot) while the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from transformers import MimiModel
from transformers.models.mimi.modeling_mimi import (
    MimiConv1d,
    MimiConvTranspose1d,
    MimiDecoder,
    MimiResnetBlock,
    MimiTransformerModel,
)

_STATELESS = (nn.ELU, nn.Identity)


def _copy_rows(target: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """`target` with `values` in `rows`: in place (a decode of a few slots must not copy every slot's state),
    except for state made under torch.inference_mode and updated outside it, which only a copy allows."""
    if target.is_inference() and not torch.is_inference_mode_enabled():
        return target.index_copy(0, rows, values)
    return target.index_copy_(0, rows, values)


class _SlotKVCache:
    """Keys and values of the decoder transformer's recent steps for every slot (batch row): per layer
    [slots, heads, steps, head_dim], the newest step last, at most `keep` steps (all when None). During a
    `decode` of the slots in `rows` it is the `Cache` that `MimiAttention` updates."""

    def __init__(self, keep: int | None, empty: torch.Tensor, layers: int) -> None:
        self.keep = keep
        self.keys = {layer: empty.clone() for layer in range(layers)}  # their own memory: updated in place
        self.values = {layer: empty.clone() for layer in range(layers)}
        self.rows: torch.Tensor | None = None  # the slots being decoded (None: all of them)

    def length(self) -> int:
        """Steps stored per slot (a slot's own history may be shorter: see `MimiStreamDecoder._counts`)."""
        return self.keys[0].shape[-2]

    def update(
        self,
        key_states: torch.Tensor,
        value_states: torch.Tensor,
        layer_idx: int,
        *args: object,
        **kwargs: object,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the stored plus new keys and values of the decoded slots; stores their tail."""
        return self._store(self.keys, layer_idx, key_states), self._store(self.values, layer_idx, value_states)

    def _store(self, store: dict[int, torch.Tensor], layer: int, new: torch.Tensor) -> torch.Tensor:
        past = store[layer]
        full = torch.cat([past if self.rows is None else past.index_select(0, self.rows), new], dim=-2)
        kept = full.shape[-2] if self.keep is None else min(self.keep, full.shape[-2])
        tail = full[..., full.shape[-2] - kept :, :]
        if self.rows is None:
            store[layer] = tail
            return full
        if kept > past.shape[-2]:  # the store grows (until it holds a window): older steps of other slots are zeros
            past = torch.cat([past.new_zeros(*past.shape[:-2], kept - past.shape[-2], past.shape[-1]), past], dim=-2)
        store[layer] = _copy_rows(past, self.rows, tail)
        return full


class MimiStreamDecoder:
    """Decodes Mimi codes frame by frame (or any chunk of frames), keeping the decoder state between calls,
    so that the concatenation of the outputs equals a one-shot `MimiModel.decode` of all codes."""

    def __init__(self, codec: MimiModel, batch_size: int = 1) -> None:
        decoder = codec.decoder
        if decoder is None:
            raise ValueError("the codec has no decoder (it was built with `decoder_config=None`)")
        config = codec.config
        if config.audio_channels != 1:
            raise ValueError(f"only mono Mimi is supported, got audio_channels={config.audio_channels}")
        if config._attn_implementation not in ("eager", "sdpa"):
            raise ValueError(
                "streaming needs an attention implementation taking an additive 4D mask ('eager' or 'sdpa'),"
                f" got {config._attn_implementation!r}"
            )
        self.codec = codec
        self.batch_size = batch_size
        self._upsample: MimiConvTranspose1d | None = decoder.upsample
        self._transformer: MimiTransformerModel = decoder.decoder_transformer
        self._seanet: MimiDecoder = decoder.decoder_seanet
        self._window: int | None = self._transformer.config.sliding_window

        param = next(decoder.parameters())
        self._device, self._dtype = param.device, param.dtype
        self._conv_layers = [m for m in decoder.modules() if isinstance(m, (MimiConv1d, MimiConvTranspose1d))]
        for layer in self._conv_layers:
            _check_streamable(layer)

        transposed = [m for m in self._conv_layers if isinstance(m, MimiConvTranspose1d)]
        self.steps_per_frame: int = self._upsample.conv.stride[0] if self._upsample is not None else 1
        """Decoder transformer steps per code frame (2 for the real Mimi: 12.5 Hz codes, 25 Hz steps)."""
        self.frame_samples: int = math.prod(m.conv.stride[0] for m in transposed)
        """Output samples per code frame (1920 for the real Mimi config at 24 kHz)."""
        self.reset()

    def reset(self) -> None:
        """Forgets all state: the next `decode` starts every row afresh."""
        self._conv_state: dict[nn.Module, torch.Tensor] = {
            layer: torch.zeros(self.batch_size, *_state_shape(layer), device=self._device, dtype=self._dtype)
            for layer in self._conv_layers
        }
        config = self._transformer.config
        keep = None if self._window is None else self._window - 1
        # A full window from the start (masked until a row has that many steps): every decode of a frame then
        # has the same shapes, so a slot's audio does not depend on what earlier requests in it left behind.
        empty = torch.zeros(
            self.batch_size,
            config.num_key_value_heads,
            keep or 0,
            config.head_dim,
            device=self._device,
            dtype=self._dtype,
        )
        self._kv = _SlotKVCache(keep, empty, len(self._transformer.layers))
        self._counts = torch.zeros(self.batch_size, dtype=torch.long, device=self._device)  # steps decoded per row
        self._rows: torch.Tensor | None = None

    def reset_rows(self, rows: torch.Tensor | Sequence[int] | Sequence[bool]) -> None:
        """Restarts the given batch rows (a bool mask of length `batch_size`, or row indices); the other rows
        continue their streams undisturbed."""
        rows = self._row_indices(rows)
        # out of place: the state may be made of inference tensors (decoded under torch.inference_mode)
        self._conv_state = {layer: state.index_fill(0, rows, 0) for layer, state in self._conv_state.items()}
        # Their cached keys and values stay, but attention masks out every step beyond a row's own count.
        self._counts = self._counts.index_fill(0, rows, 0)

    def _row_indices(self, rows: torch.Tensor | Sequence[int] | Sequence[bool]) -> torch.Tensor:
        rows = torch.as_tensor(rows, device=self._device)
        if rows.dtype == torch.bool:
            if rows.shape != (self.batch_size,):
                raise ValueError(f"row mask must have shape ({self.batch_size},), got {tuple(rows.shape)}")
            rows = rows.nonzero().flatten()
        return rows.long()

    @torch.no_grad()
    def decode(self, codes: torch.Tensor, rows: torch.Tensor | Sequence[int] | None = None) -> torch.Tensor:
        """codes: LongTensor [batch, num_codebooks, n_frames] (n_frames >= 1) -> float waveform
        [batch, n_frames * frame_samples]. With `rows` (distinct row indices), codes hold only those rows'
        frames and only their streams advance; without, every row's."""
        self._rows = None if rows is None else self._row_indices(rows)
        expected = self.batch_size if self._rows is None else self._rows.shape[0]
        if codes.ndim != 3 or codes.shape[0] != expected or codes.shape[-1] < 1:
            raise ValueError(f"expected codes [{expected}, num_codebooks, n_frames >= 1], got {tuple(codes.shape)}")
        hidden = self.codec.quantizer.decode(codes.to(self._device))
        if self._upsample is not None:
            hidden = self._transposed_conv(self._upsample, hidden)
        hidden = self._run_transformer(hidden.transpose(1, 2)).transpose(1, 2)
        audio = self._run_seanet(self._seanet, hidden)
        return audio[:, 0]

    def _run_transformer(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden [batch, steps, channels]: the decoder transformer on new steps, attending to each row's past."""
        steps, past = hidden.shape[1], self._kv.length()
        device = hidden.device
        counts = self._counts if self._rows is None else self._counts.index_select(0, self._rows)
        query_step = counts[:, None] + torch.arange(steps, device=device)  # [batch, steps]
        # stored keys are each row's last `past` steps (those before its count do not exist), then the new ones
        key_step = counts[:, None] - past + torch.arange(past + steps, device=device)  # [batch, keys]
        allowed = (key_step[:, None, :] >= 0) & (key_step[:, None, :] <= query_step[:, :, None])
        if self._window is not None:
            allowed &= key_step[:, None, :] > query_step[:, :, None] - self._window
        mask = torch.zeros(allowed.shape, dtype=hidden.dtype, device=device)
        mask = mask.masked_fill(~allowed, torch.finfo(hidden.dtype).min)[:, None]  # [batch, 1, steps, keys]

        position_embeddings = self._transformer.rotary_emb(hidden, query_step)
        self._kv.rows = self._rows
        for layer in self._transformer.layers:
            hidden = layer(hidden, attention_mask=mask, cache=self._kv, position_embeddings=position_embeddings)
        counts = counts + steps
        self._counts = counts if self._rows is None else self._counts.index_copy(0, self._rows, counts)
        return hidden

    def _state(self, layer: nn.Module) -> torch.Tensor:
        state = self._conv_state[layer]
        return state if self._rows is None else state.index_select(0, self._rows)

    def _set_state(self, layer: nn.Module, value: torch.Tensor) -> None:
        state = self._conv_state[layer]
        self._conv_state[layer] = value if self._rows is None else _copy_rows(state, self._rows, value)

    def _run_seanet(self, module: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        """Runs a SEANet (sub)module on hidden [batch, channels, time], with the convolutions' state."""
        if isinstance(module, MimiConv1d):
            return self._causal_conv(module, hidden)
        if isinstance(module, MimiConvTranspose1d):
            return self._transposed_conv(module, hidden)
        if isinstance(module, MimiResnetBlock):
            residual = self._run_seanet(module.shortcut, hidden)
            for layer in module.block:
                hidden = self._run_seanet(layer, hidden)
            return residual + hidden
        if isinstance(module, MimiDecoder):
            for layer in module.layers:
                hidden = self._run_seanet(layer, hidden)
            return hidden
        if isinstance(module, _STATELESS):
            return module(hidden)
        raise TypeError(f"don't know how to stream {type(module).__name__}")

    def _causal_conv(self, layer: MimiConv1d, hidden: torch.Tensor) -> torch.Tensor:
        """One-shot pads `padding_total` zeros on the left (pad mode constant); here the past input does."""
        padded = torch.cat([self._state(layer), hidden], dim=-1)
        self._set_state(layer, padded[..., padded.shape[-1] - int(layer.padding_total) :])
        return layer.conv(padded)

    def _transposed_conv(self, layer: MimiConvTranspose1d, hidden: torch.Tensor) -> torch.Tensor:
        """One-shot trims the last `kernel - stride` samples (causal, trim_right_ratio 1); here they are kept
        and overlap-added into the next call's output. The bias is added only to emitted samples."""
        conv = layer.conv
        out = nn.functional.conv_transpose1d(
            hidden, conv.weight, None, stride=conv.stride, groups=conv.groups, dilation=conv.dilation
        )
        overlap = self._state(layer)
        out = torch.cat([out[..., : overlap.shape[-1]] + overlap, out[..., overlap.shape[-1] :]], dim=-1)
        emitted = hidden.shape[-1] * conv.stride[0]
        self._set_state(layer, out[..., emitted:])
        out = out[..., :emitted]
        return out if conv.bias is None else out + conv.bias[:, None]


def _check_streamable(layer: MimiConv1d | MimiConvTranspose1d) -> None:
    """Rejects configurations whose one-shot output this decoder would not reproduce."""
    conv = layer.conv
    if not layer.causal:
        raise ValueError("streaming needs causal convolutions (use_causal_conv=True)")
    if conv.padding[0] != 0:
        raise ValueError("unexpected built-in padding in a Mimi convolution")
    if isinstance(layer, MimiConv1d):
        if layer.pad_mode != "constant" or conv.stride[0] != 1:
            raise ValueError(
                f"streaming needs stride-1 convolutions with constant padding, got stride {conv.stride[0]}"
                f" and pad_mode {layer.pad_mode!r}"
            )
    elif layer.padding_left != 0 or conv.dilation[0] != 1 or conv.kernel_size[0] < conv.stride[0]:
        raise ValueError("streaming needs transposed convolutions trimmed on the right only (trim_right_ratio=1)")


def _state_shape(layer: MimiConv1d | MimiConvTranspose1d) -> tuple[int, int]:
    """[channels, time] of a layer's state: past input of a convolution, overlap of a transposed one."""
    conv = layer.conv
    if isinstance(layer, MimiConv1d):
        return conv.in_channels, int(layer.padding_total)
    return conv.out_channels, conv.kernel_size[0] - conv.stride[0]
