"""The frame loop: one backbone step per 80 ms frame, then the depth decoder for the other codebooks.

`FrameGenerator` owns the preallocated caches for `max_batch` rows. Rows 0..n-1 are the active
requests, each at its own position in the backbone cache; the depth decoder runs all rows at once
with a fresh cache every frame (as the model was trained).
"""

from __future__ import annotations

import torch

from .decoder import StaticDecoder
from .graphs import StepGraphs, batch_buckets, bucket
from .sampling import Sampler

SPAN_BUCKET = 256
"""The backbone step's attended cache length is rounded up to a multiple of this for its CUDA graphs."""

PREFILL_BUCKET = 16
"""On CUDA, a batched prefill's width (its longest prompt) is rounded up to a multiple of this."""


class FrameGenerator:
    """`cuda_graphs` (default: on for CUDA) replays each frame's depth decoder and backbone step as CUDA
    graphs, bucketed by batch size (and the backbone's attended length); `cuda_graphs=True` on a CPU, or
    with `capture=False`, runs the same bucketed steps eagerly, which is how they are checked. `compile`
    fuses the depth frame with torch.compile first, for every batch bucket when the generator is built
    (seconds to minutes of compilation per bucket on a CPU)."""

    def __init__(
        self,
        model,
        *,
        max_batch: int,
        cuda_graphs: bool | None = None,
        compile: bool = False,
        capture: bool | None = None,
    ) -> None:
        config = model.config
        self.num_codebooks = config.num_codebooks
        self.vocab_size = config.vocab_size
        self.decodable = min(config.vocab_size, model.codec_model.config.codebook_size)
        self.eos_code = config.codebook_eos_token_id
        self.max_positions = config.max_position_embeddings
        self.backbone = StaticDecoder(model.backbone_model, max_batch=max_batch, max_positions=self.max_positions)
        depth_model = model.depth_decoder.model
        self.depth = StaticDecoder(depth_model, max_batch=max_batch, max_positions=self.num_codebooks + 1)
        self.embed_frame = model.backbone_model.embed_tokens
        self.projector = depth_model.inputs_embeds_projector
        with torch.no_grad():
            # The depth decoder's input for every (codebook, code), projected once instead of every step.
            self.depth_inputs = self.projector(depth_model.embed_tokens.weight)
        self.lm_head = model.lm_head
        self.heads = model.depth_decoder.codebooks_head.weight  # [codebooks - 1, hidden, vocab]
        device, dtype = self.depth_inputs.device, self.depth_inputs.dtype
        self.device = device
        self.lengths = [0] * max_batch  # each row's next position, on the host: spans need no device sync
        self.offsets = torch.arange(self.num_codebooks, device=device) * self.vocab_size

        self.batches = batch_buckets(max_batch)
        self.spans = [*range(SPAN_BUCKET, self.max_positions, SPAN_BUCKET), self.max_positions]
        bucketed = device.type == "cuda" if cuda_graphs is None else cuda_graphs
        capture = bucketed and device.type == "cuda" and capture is not False
        self.depth_graphs: StepGraphs | None = None
        self.backbone_graphs: StepGraphs | None = None
        with torch.no_grad():
            if bucketed or compile:
                frame = torch.compile(self.codes_for, dynamic=False, fullgraph=True) if compile else self.codes_for
                inputs = {
                    "hidden": torch.zeros(max_batch, config.hidden_size, dtype=dtype, device=device),
                    "temperature": torch.ones(max_batch, device=device),
                    "topk": torch.ones(max_batch, dtype=torch.long, device=device),
                }
                shapes = [(rows,) for rows in self.batches]
                self.depth_graphs = StepGraphs(frame, inputs, shapes=shapes, capture=capture, warm=compile)
            if bucketed:
                inputs = {
                    "codes": torch.zeros(max_batch, self.num_codebooks, dtype=torch.long, device=device),
                    "positions": torch.zeros(max_batch, dtype=torch.long, device=device),
                }
                shapes = [(rows, span) for rows in self.batches for span in self.spans]
                self.backbone_graphs = StepGraphs(self.backbone_step, inputs, shapes=shapes, capture=capture)

    @torch.no_grad()
    def prefill(self, row: int, embeddings: torch.Tensor) -> torch.Tensor:
        """Runs a prompt ([1, length, hidden]) into a row's cache; returns its last hidden state [1, hidden]."""
        return self.prefill_rows([row], [embeddings[0]], starts=[0])

    @torch.no_grad()
    def prefill_rows(self, rows: list[int], prompts: list[torch.Tensor], *, starts: list[int]) -> torch.Tensor:
        """Runs prompts ([length, hidden] each) into their rows' caches from positions `starts` (what comes
        before is already there), all in one call; returns each row's last hidden state [n, hidden].

        The prompts are right-padded to a common width (on CUDA rounded up to a multiple of PREFILL_BUCKET,
        which bounds the shapes kernels are chosen for; on a CPU every padded position costs its full
        compute, so none is added)."""
        lengths = [prompt.shape[0] for prompt in prompts]
        width = max(lengths)
        if self.device.type == "cuda":
            width = -(-width // PREFILL_BUCKET) * PREFILL_BUCKET
        cache = self.backbone.keys
        x = torch.zeros(len(prompts), width, prompts[0].shape[-1], dtype=cache.dtype, device=cache.device)
        for index, prompt in enumerate(prompts):
            x[index, : prompt.shape[0]] = prompt
        hidden = self.backbone.prefill_rows(x, rows=rows, starts=starts, lengths=lengths)
        for row, start, length in zip(rows, starts, lengths, strict=True):
            self.lengths[row] = start + length
        last = torch.tensor(lengths, device=hidden.device) - 1
        return hidden[torch.arange(len(rows), device=hidden.device), last]

    def read_prefix(self, row: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """A copy of the backbone cache of a row's first `length` positions (keys, values)."""
        return self.backbone.read_prefix(row, length)

    def write_prefix(self, row: int, prefix: tuple[torch.Tensor, torch.Tensor]) -> None:
        """Puts a prefix (keys, values from `read_prefix`) at the start of a row's backbone cache."""
        self.backbone.write_prefix(row, *prefix)

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        """Copies the first `length` positions of one row's backbone cache into another row."""
        cache = self.backbone
        cache.write_prefix(target, cache.keys[:, source, :, :length], cache.values[:, source, :, :length])

    @torch.no_grad()
    def frame(self, hidden: torch.Tensor, *, temperature: torch.Tensor, topk: torch.Tensor) -> torch.Tensor:
        """Last backbone hidden states of rows 0..n-1 ([n, hidden]) -> the next frame's codes [n, codebooks]."""
        if self.depth_graphs is not None:
            shape = (bucket(hidden.shape[0], self.batches),)
            return self.depth_graphs(shape, hidden=hidden, temperature=temperature, topk=topk)
        return self.codes_for(hidden, temperature=temperature, topk=topk)

    def codes_for(self, hidden: torch.Tensor, *, temperature: torch.Tensor, topk: torch.Tensor) -> torch.Tensor:
        """The frame itself: codebook 0 from the backbone's head, the others from the depth decoder."""
        sample = Sampler(temperature=temperature, topk=topk, decodable=self.decodable)
        codes = [sample(self.lm_head(hidden))]
        # Depth positions 0 and 1: the backbone's state, then codebook 0; then one position per codebook.
        inputs = torch.stack([self.projector(hidden), self.depth_inputs[codes[0]]], dim=1)
        position = 0
        for k in range(1, self.num_codebooks):
            states = self.depth.prefill(inputs, start=position)
            position += inputs.shape[1]
            codes.append(sample(states[:, -1] @ self.heads[k - 1]))
            inputs = self.depth_inputs[codes[k] + self.offsets[k]][:, None]
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def advance(self, codes: torch.Tensor) -> torch.Tensor:
        """Feeds frames [n, codebooks] to the backbone at each row's position; returns the next hidden states."""
        rows = codes.shape[0]
        positions = torch.tensor(self.lengths[:rows], device=self.device)
        span = max(self.lengths[:rows]) + 1
        if self.backbone_graphs is not None:
            shape = (bucket(rows, self.batches), bucket(span, self.spans))
            hidden = self.backbone_graphs(shape, codes=codes, positions=positions)
        else:
            hidden = self.backbone_step(span, codes=codes, positions=positions)
        self.lengths[:rows] = [length + 1 for length in self.lengths[:rows]]
        return hidden

    def backbone_step(self, span: int, *, codes: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Frames [n, codebooks] at positions [n], attending to cache positions < span -> hidden [n, hidden]."""
        return self.backbone.step(self.embed_frame(codes[:, None]), positions, span=span)[:, -1]

    def is_end(self, codes: torch.Tensor) -> torch.Tensor:
        """The end-of-audio rule of transformers' generate(): every codebook but the last is the eos code."""
        return (codes[:, :-1] == self.eos_code).all(dim=-1)

    def move_row(self, source: int, target: int) -> None:
        self.backbone.move_row(source, target)
        self.lengths[target] = self.lengths[source]
