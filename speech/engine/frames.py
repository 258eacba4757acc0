"""The frame loop: one backbone step per 80 ms frame, then the depth decoder for the other codebooks.

`FrameGenerator` owns the preallocated caches for `max_batch` rows. Rows 0..n-1 are the active
requests, each at its own position in the backbone cache; the depth decoder runs all rows at once
with a fresh cache every frame (as the model was trained).
"""

from __future__ import annotations

import logging

import torch

from .decoder import StaticDecoder
from .graphs import StepGraphs, batch_buckets, bucket
from .sampling import Sampler, gumbel_noise, noise_counters

logger = logging.getLogger(__name__)

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
        device = self.depth_inputs.device
        self.device = device
        self.config = config
        self.max_batch = max_batch
        self.lengths = [0] * max_batch  # each row's next position, on the host: spans need no device sync
        self.offsets = torch.arange(self.num_codebooks, device=device) * self.vocab_size

        self.counters = noise_counters(self.num_codebooks, self.decodable, device=device)

        self.batches = batch_buckets(max_batch)
        self.spans = [*range(SPAN_BUCKET, self.max_positions, SPAN_BUCKET), self.max_positions]
        bucketed = device.type == "cuda" if cuda_graphs is None else cuda_graphs
        capture = bucketed and device.type == "cuda" and capture is not False
        self.depth_graphs: StepGraphs | None = None
        self.backbone_graphs: StepGraphs | None = None
        self.path = "direct"
        """The steps that serve: "cuda_graphs", "compiled", "bucketed" (the graphs' shapes run eagerly) or "direct"."""
        self.fallback_reason: str | None = None
        """Why the fast steps asked for are not the ones serving (None when they are)."""
        if bucketed or compile:
            self._start_fast_steps(bucketed=bucketed, capture=capture, compile=compile)

    def _start_fast_steps(self, *, bucketed: bool, capture: bool, compile: bool) -> None:
        """Builds (captures, compiles) the fast steps, then checks one greedy frame of them against the direct
        steps; on any error or a different code, logs why and keeps the direct steps."""
        path = "cuda_graphs" if capture else "compiled" if compile else "bucketed"
        try:
            with torch.no_grad():
                self._build_fast_steps(bucketed=bucketed, capture=capture, compile=compile)
            with torch.inference_mode():  # as the worker runs them: a compiled step is not compiled again
                mismatch = self._check_fast_steps()
        except Exception as error:  # noqa: BLE001 - any failure of the fast steps leaves the direct ones serving
            logger.exception("The %s steps failed to start", path)
            mismatch = f"starting them failed: {type(error).__name__}: {error}"[:500]
        self.lengths[0] = 0  # row 0 held the check's prompt
        if mismatch is None:
            self.path = path
            return
        self.depth_graphs = self.backbone_graphs = None
        self.fallback_reason = f"The {path} steps were not used: {mismatch}"
        logger.error("%s. Serving with the direct steps.", self.fallback_reason)

    def _build_fast_steps(self, *, bucketed: bool, capture: bool, compile: bool) -> None:
        config, max_batch = self.config, self.max_batch
        device, dtype = self.device, self.depth_inputs.dtype
        frame = torch.compile(self.codes_for, dynamic=False, fullgraph=True) if compile else self.codes_for
        inputs = {
            "hidden": torch.zeros(max_batch, config.hidden_size, dtype=dtype, device=device),
            "temperature": torch.ones(max_batch, device=device),
            "topk": torch.ones(max_batch, dtype=torch.long, device=device),
            "seed": torch.zeros(max_batch, dtype=torch.long, device=device),
            "frame_index": torch.zeros(max_batch, dtype=torch.long, device=device),
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

    def _check_fast_steps(self) -> str | None:
        """One greedy frame from a fixed prompt in row 0, through the fast steps and the direct steps, then the
        frame after it from each one's backbone step: None when the codes agree, else what differed."""
        codes = torch.arange(4 * self.num_codebooks, device=self.device).view(1, 4, -1) * 7 % self.decodable
        hidden = self.prefill(0, self.embed_frame(codes))
        sampling = self.greedy_sampling(1, device=self.device)
        direct = self.codes_for(hidden, **sampling)
        fast = self.frame(hidden, **sampling)
        if not torch.equal(fast, direct):
            differ = (fast != direct).sum().item()
            return f"{differ} of the {self.num_codebooks} greedy codes of their frame differ from the direct steps'"
        if self.backbone_graphs is not None:
            position = torch.tensor(self.lengths[:1], device=self.device)
            span = self.lengths[0] + 1
            direct_next = self.codes_for(self.backbone_step(span, codes=direct, positions=position), **sampling)
            fast_next = self.codes_for(self.advance(direct), **sampling)
            if not torch.equal(fast_next, direct_next):
                return "their backbone step leads to other greedy codes than the direct backbone step"
        return None

    @staticmethod
    def greedy_sampling(rows: int, *, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """The sampling inputs of `frame` for `rows` greedy rows."""
        ones = torch.ones(rows, dtype=torch.long, device=device)
        return {
            "temperature": ones.float(),
            "topk": ones,
            "seed": torch.zeros_like(ones),
            "frame_index": torch.zeros_like(ones),
        }

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
    def frame(self, hidden: torch.Tensor, **sampling: torch.Tensor) -> torch.Tensor:
        """Last backbone hidden states of rows 0..n-1 ([n, hidden]) -> the next frame's codes [n, codebooks].
        `sampling`: each row's temperature, topk, seed and frame_index ([n] each; see `codes_for`)."""
        if self.depth_graphs is not None:
            shape = (bucket(hidden.shape[0], self.batches),)
            return self.depth_graphs(shape, hidden=hidden, **sampling)
        return self.codes_for(hidden, **sampling)

    def codes_for(
        self,
        hidden: torch.Tensor,
        *,
        temperature: torch.Tensor,
        topk: torch.Tensor,
        seed: torch.Tensor,
        frame_index: torch.Tensor,
    ) -> torch.Tensor:
        """The frame itself: codebook 0 from the backbone's head, the others from the depth decoder. Each row
        samples with the noise of its own seed and frame index (the request's count of frames so far)."""
        noise = gumbel_noise(seed, frame_index, self.counters)
        sample = Sampler(temperature=temperature, topk=topk, noise=noise, decodable=self.decodable)
        codes = [sample(self.lm_head(hidden), 0)]
        # Depth positions 0 and 1: the backbone's state, then codebook 0; then one position per codebook.
        inputs = torch.stack([self.projector(hidden), self.depth_inputs[codes[0]]], dim=1)
        position = 0
        for k in range(1, self.num_codebooks):
            states = self.depth.prefill(inputs, start=position)
            position += inputs.shape[1]
            codes.append(sample(states[:, -1] @ self.heads[k - 1], k))
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
