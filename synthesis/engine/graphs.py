"""CUDA graphs of the depth-decoder frame: 31 small sequential steps replayed as one launch.

The frame (`FrameGenerator.codes_for`) has fixed shapes for a given number of rows and reads and
writes only preallocated tensors, so it is captured once per batch bucket (1, 2, 4, ... max_batch).
A frame for n rows runs the smallest bucket >= n on padded static inputs; the extra rows compute
garbage that nobody reads (depth-decoder rows are independent and their cache is fresh every frame).
Without CUDA (`capture=False`) the same bucketing runs eagerly, which is how it is tested on CPU.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

FrameFn = Callable[..., torch.Tensor]


def batch_buckets(max_batch: int) -> list[int]:
    buckets = [size for size in (1, 2, 4, 8, 16, 32, 64, 128, 256) if size < max_batch]
    return [*buckets, max_batch]


class FrameGraphs:
    def __init__(self, frame: FrameFn, *, max_batch: int, hidden: torch.Tensor, capture: bool) -> None:
        self.frame = frame
        self.buckets = batch_buckets(max_batch)
        device = hidden.device
        self.hidden = torch.zeros(max_batch, hidden.shape[-1], dtype=hidden.dtype, device=device)
        self.temperature = torch.ones(max_batch, device=device)
        self.topk = torch.ones(max_batch, dtype=torch.long, device=device)
        self.graphs: dict[int, torch.cuda.CUDAGraph] = {}
        self.outputs: dict[int, torch.Tensor] = {}
        if capture:
            self._capture()

    def _inputs(self, rows: int) -> dict:
        return {"temperature": self.temperature[:rows], "topk": self.topk[:rows]}

    def _capture(self) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for rows in self.buckets:  # warm up kernels and allocator outside capture
                self.frame(self.hidden[:rows], **self._inputs(rows))
        torch.cuda.current_stream().wait_stream(side)
        pool = None
        for rows in reversed(self.buckets):  # largest first, so smaller graphs reuse its memory pool
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self.outputs[rows] = self.frame(self.hidden[:rows], **self._inputs(rows))
            pool = graph.pool()
            self.graphs[rows] = graph

    def __call__(self, hidden: torch.Tensor, *, temperature: torch.Tensor, topk: torch.Tensor) -> torch.Tensor:
        rows = hidden.shape[0]
        bucket = next(size for size in self.buckets if size >= rows)
        self.hidden[:rows].copy_(hidden)
        self.temperature[:rows].copy_(temperature)
        self.topk[:rows].copy_(topk)
        graph = self.graphs.get(bucket)
        if graph is None:
            return self.frame(self.hidden[:bucket], **self._inputs(bucket))[:rows]
        graph.replay()
        return self.outputs[bucket][:rows].clone()
