"""Prefill: the prompts of the requests that start together run into their rows in one batched call.

A prompt is a voice's context (its sample and transcript: a prefix shared by every request in that voice)
and what follows it (the previous piece, then the text). The context always runs as a block of its own at
positions 0..n, whether its KV comes from the prefix cache, from another row starting with the same voice,
or is computed now; what follows always runs as a second block from n. So a request does the same
arithmetic, and speaks the same greedy codes, with and without the cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .frames import FrameGenerator
from .prefix_cache import Prefix, PrefixCache, prefix_key
from .prompt import PromptBuilder, Segment


@dataclass
class Context:
    """A voice's context segments as a prompt prefix of `length` positions: its KV when the cache holds it,
    else its tokens, to compute it."""

    key: str
    length: int
    segments: list[Segment]
    token_ids: list[int] | None = None
    prefix: Prefix | None = None


@dataclass
class Prompt:
    """One row's prompt: the context (None when there is none) and the tokens of the segments after it."""

    context: Context | None
    token_ids: list[int]
    segments: list[Segment]

    @property
    def start(self) -> int:
        return self.context.length if self.context is not None else 0

    @property
    def length(self) -> int:
        return self.start + len(self.token_ids)


class Prefiller:
    """Builds prompts and runs them, up to `max_rows` rows per call (1: one request at a time)."""

    def __init__(
        self, generator: FrameGenerator, prompts: PromptBuilder, cache: PrefixCache, *, model: str, max_rows: int
    ) -> None:
        self.generator = generator
        self.prompts = prompts
        self.cache = cache
        self.model = model
        self.max_rows = max_rows
        self.split = prompts.splits_at_segments()
        self._contexts: dict[str, Context] = {}  # the contexts of prompts built since the last run

    def prompt(self, context: list[Segment], rest: list[Segment]) -> Prompt:
        """The prompt of `context` then `rest`; its length is known before anything runs."""
        if not context or not self.split:
            segments = [*context, *rest]
            return Prompt(None, self.prompts.token_ids(segments), segments)
        return Prompt(self._context(context), self.prompts.token_ids(rest), rest)

    def _context(self, segments: list[Segment]) -> Context:
        key = prefix_key(segments, self.model)
        context = self._contexts.get(key)
        if context is None:
            prefix = self.cache.get(key)
            if prefix is not None:
                context = Context(key, prefix.length, segments, prefix=prefix)
            else:
                token_ids = self.prompts.token_ids(segments)
                context = Context(key, len(token_ids), segments, token_ids=token_ids)
            self._contexts[key] = context
        return context

    def run(self, rows: list[int], prompts: list[Prompt]) -> torch.Tensor:
        """Prefills each prompt into its row; returns the rows' last hidden states [n, hidden]."""
        try:
            step = self.max_rows
            return torch.cat([self._run(rows[i : i + step], prompts[i : i + step]) for i in range(0, len(rows), step)])
        finally:
            self._contexts.clear()

    def _run(self, rows: list[int], prompts: list[Prompt]) -> torch.Tensor:
        # Contexts without KV: each computed once, in the first row that needs it, all in one call.
        owners: dict[str, tuple[int, Context]] = {}
        for row, prompt in zip(rows, prompts, strict=True):
            if prompt.context is not None and prompt.context.prefix is None:
                owners.setdefault(prompt.context.key, (row, prompt.context))
        if owners:
            self.generator.prefill_rows(
                [row for row, _ in owners.values()],
                [self.prompts.embed(context.token_ids, context.segments)[0] for _, context in owners.values()],
                starts=[0] * len(owners),
            )
            if self.cache.max_bytes:
                for row, context in owners.values():
                    prefix = Prefix(*self.generator.read_prefix(row, context.length))
                    if self.cache.put(context.key, prefix):
                        context.prefix = prefix
        for row, prompt in zip(rows, prompts, strict=True):
            context = prompt.context
            if context is None or owners.get(context.key, (None,))[0] == row:
                continue
            if context.prefix is not None:
                self.generator.write_prefix(row, (context.prefix.keys, context.prefix.values))
            else:
                self.generator.copy_prefix(owners[context.key][0], row, context.length)
        return self.generator.prefill_rows(
            rows,
            [self.prompts.embed(prompt.token_ids, prompt.segments)[0] for prompt in prompts],
            starts=[prompt.start for prompt in prompts],
        )
