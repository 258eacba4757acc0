"""The frame loop: one backbone step per 80 ms frame, then the depth decoder for the other codebooks.

`FrameGenerator` owns the preallocated caches for `max_batch` rows. Rows 0..n-1 are the active
requests, each at its own position in the backbone cache; the depth decoder runs all rows at once
with a fresh cache every frame (as the model was trained).
"""

from __future__ import annotations

import torch

from .decoder import StaticDecoder
from .graphs import FrameGraphs
from .sampling import sample


class FrameGenerator:
    """`cuda_graphs` (default: on for CUDA) replays each frame's depth decoder as one CUDA graph;
    `compile` fuses it with torch.compile first (minutes of compilation per batch bucket on a CPU)."""

    def __init__(self, model, *, max_batch: int, cuda_graphs: bool | None = None, compile: bool = False) -> None:
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
        device = self.depth_inputs.device
        self.positions = torch.zeros(max_batch, dtype=torch.long, device=device)
        self.offsets = torch.arange(self.num_codebooks, device=device) * self.vocab_size
        self.graphs: FrameGraphs | None = None
        capture = device.type == "cuda" if cuda_graphs is None else cuda_graphs
        if capture or compile:
            frame = torch.compile(self.codes_for, dynamic=False, fullgraph=True) if compile else self.codes_for
            with torch.no_grad():
                probe = torch.zeros(1, config.hidden_size, dtype=self.depth_inputs.dtype, device=device)
                self.graphs = FrameGraphs(frame, max_batch=max_batch, hidden=probe, capture=capture)

    @torch.no_grad()
    def prefill(self, row: int, embeddings: torch.Tensor) -> torch.Tensor:
        """Runs a prompt ([1, length, hidden]) into a row's cache; returns its last hidden state [1, hidden]."""
        hidden = self.backbone.prefill(embeddings, row=row)
        self.positions[row] = embeddings.shape[1]
        return hidden[:, -1]

    @torch.no_grad()
    def frame(self, hidden: torch.Tensor, *, temperature: torch.Tensor, topk: torch.Tensor) -> torch.Tensor:
        """Last backbone hidden states of rows 0..n-1 ([n, hidden]) -> the next frame's codes [n, codebooks]."""
        if self.graphs is not None:
            return self.graphs(hidden, temperature=temperature, topk=topk)
        return self.codes_for(hidden, temperature=temperature, topk=topk)

    def codes_for(self, hidden: torch.Tensor, *, temperature: torch.Tensor, topk: torch.Tensor) -> torch.Tensor:
        """The frame itself: codebook 0 from the backbone's head, the others from the depth decoder."""
        sampling = {"temperature": temperature, "topk": topk, "decodable": self.decodable}
        codes = [sample(self.lm_head(hidden), **sampling)]
        # Depth positions 0 and 1: the backbone's state, then codebook 0; then one position per codebook.
        inputs = torch.stack([self.projector(hidden), self.depth_inputs[codes[0]]], dim=1)
        position = 0
        for k in range(1, self.num_codebooks):
            states = self.depth.prefill(inputs, start=position)
            position += inputs.shape[1]
            codes.append(sample(states[:, -1] @ self.heads[k - 1], **sampling))
            inputs = self.depth_inputs[codes[k] + self.offsets[k]][:, None]
        return torch.stack(codes, dim=1)

    @torch.no_grad()
    def advance(self, codes: torch.Tensor) -> torch.Tensor:
        """Feeds frames [n, codebooks] to the backbone at each row's position; returns the next hidden states."""
        rows = codes.shape[0]
        positions = self.positions[:rows]
        hidden = self.backbone.step(self.embed_frame(codes[:, None]), positions)
        positions += 1
        return hidden[:, -1]

    def is_end(self, codes: torch.Tensor) -> torch.Tensor:
        """The end-of-audio rule of transformers' generate(): every codebook but the last is the eos code."""
        return (codes[:, :-1] == self.eos_code).all(dim=-1)

    def move_row(self, source: int, target: int) -> None:
        self.backbone.move_row(source, target)
        self.positions[target] = self.positions[source]
