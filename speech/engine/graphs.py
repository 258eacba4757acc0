"""CUDA graphs of the engine's fixed-shape steps: many small kernels replayed as one launch.

A step (the depth-decoder frame: 31 sequential decoder steps; the backbone step: one position through
every layer) reads its inputs from preallocated buffers and writes only preallocated tensors, so it is
captured once per shape: a batch bucket (1, 2, 4, ... max_batch) and, for the backbone, a bucket of the
attended cache length. A call for n rows runs the smallest bucket >= n on the padded buffers; the extra
rows compute garbage that nobody reads. Without CUDA (`capture=False`) the same bucketing runs eagerly,
which is how it is tested on CPU (and how a compiled step sees only bucket shapes).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import torch

logger = logging.getLogger(__name__)

Shape = tuple[int, ...]  # (batch bucket, *the step's other static arguments)


def batch_buckets(max_batch: int) -> list[int]:
    buckets = [size for size in (1, 2, 4, 8, 16, 32, 64, 128, 256) if size < max_batch]
    return [*buckets, max_batch]


def bucket(value: int, buckets: Iterable[int]) -> int:
    """The smallest bucket >= value."""
    return next(size for size in buckets if size >= value)


class StepGraphs:
    """Runs `step(*static, **inputs)` on static input buffers ([max_batch, ...] each), replaying a captured
    CUDA graph for each shape in `shapes` when `capture` is on. `warm` runs every shape once at the start
    (a torch.compile'd step then compiles before it serves, not in the middle of a stream)."""

    def __init__(
        self,
        step: Callable[..., torch.Tensor],
        inputs: dict[str, torch.Tensor],
        *,
        shapes: list[Shape],
        capture: bool,
        warm: bool = False,
    ) -> None:
        self.step = step
        self.inputs = inputs
        self.graphs: dict[Shape, torch.cuda.CUDAGraph] = {}
        self.outputs: dict[Shape, torch.Tensor] = {}
        if capture:
            with torch.cuda.device(next(iter(inputs.values())).device):  # capture on the model's device
                self._capture(shapes)
        elif warm:
            with torch.inference_mode():  # as the engine's worker runs it
                for shape in shapes:
                    self._run(shape)

    def _run(self, shape: Shape) -> torch.Tensor:
        rows, *static = shape
        return self.step(*static, **{name: buffer[:rows] for name, buffer in self.inputs.items()})

    def _capture(self, shapes: list[Shape]) -> None:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for shape in shapes:  # warm up kernels and the allocator outside capture
                self._run(shape)
        torch.cuda.current_stream().wait_stream(side)
        pool = None
        for shape in sorted(shapes, reverse=True):  # largest first, so smaller graphs reuse its memory pool
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph, pool=pool):
                self.outputs[shape] = self._run(shape)
            pool = graph.pool()
            self.graphs[shape] = graph
        logger.info("Captured %d CUDA graphs of %s", len(shapes), getattr(self.step, "__name__", "a step"))

    def __call__(self, shape: Shape, **values: torch.Tensor) -> torch.Tensor:
        """Copies `values` (n rows each, n <= shape[0]) into the buffers, runs `shape`; returns n rows."""
        rows = next(iter(values.values())).shape[0]
        for name, value in values.items():
            self.inputs[name][:rows].copy_(value)
        graph = self.graphs.get(shape)
        if graph is None:
            return self._run(shape)[:rows]
        graph.replay()
        return self.outputs[shape][:rows].clone()
