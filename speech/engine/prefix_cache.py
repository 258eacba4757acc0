"""The prefix cache: the backbone's KV of a voice's context segments, computed once and reused.

Every request in a voice starts its prompt with the same segments (the voice's sample and transcript) at
positions 0..n, so their keys and values are the same for all of them. An entry is keyed by the content
of those segments (speakers, texts, codes) and the model, never by a voice's id or name: a re-encoded
voice has other codes and so another key, and a deleted voice's entry can never be served for anything
but the same content (which its KV describes exactly); it leaves when it is the least recently used and
room is needed. A one-off sample is cached the same way, for as long as newer prompts leave it room.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import torch

from .prompt import Segment


def prefix_key(segments: list[Segment], model: str) -> str:
    """A digest of everything a prefix's KV depends on: the model (name, dtype, device) and the segments."""
    digest = hashlib.blake2b(model.encode(), digest_size=20)
    for segment in segments:
        digest.update(f"\x00{segment.speaker}\x00{len(segment.text)}\x00{segment.text}".encode())
        if segment.codes is None:
            digest.update(b"\x00no audio")
        else:
            codes = segment.codes.detach().to("cpu", torch.int64).contiguous()
            digest.update(f"\x00{tuple(codes.shape)}".encode())
            digest.update(codes.numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Prefix:
    """The backbone cache of a prompt's first `length` positions: keys and values [layers, kv_heads, length, dim]."""

    keys: torch.Tensor
    values: torch.Tensor

    @property
    def length(self) -> int:
        return self.keys.shape[2]

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes


class PrefixCache:
    """Prefixes by key, least recently used out first once they would take more than `max_bytes`.

    Entries stay on the device the model runs on; `max_bytes=0` turns the cache off."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[str, Prefix] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> Prefix | None:
        prefix = self._entries.get(key)
        if prefix is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return prefix

    def put(self, key: str, prefix: Prefix) -> bool:
        """Stores a prefix, making room by evicting the least recently used; False when it can never fit."""
        if prefix.nbytes > self.max_bytes:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self.nbytes -= old.nbytes
        while self._entries and self.nbytes + prefix.nbytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.nbytes -= evicted.nbytes
        self._entries[key] = prefix
        self.nbytes += prefix.nbytes
        return True
