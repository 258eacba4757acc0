"""Splitting text into pieces the model speaks one at a time."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]]*(\s+)")
_CLAUSE_END = re.compile(r"(?<=[,;:—–])\s+")


def split_sentences(text: str, *, max_chars: int = 300) -> list[str]:
    """Sentences of `text`, each at most `max_chars` (long sentences are cut at clauses, then at spaces)."""
    pieces: list[str] = []
    start = 0
    text = text.strip()
    for match in _SENTENCE_END.finditer(text):
        pieces.extend(_cut(text[start : match.start(1)], max_chars))
        start = match.end()
    pieces.extend(_cut(text[start:], max_chars))
    return [piece for piece in pieces if piece]


def _cut(sentence: str, max_chars: int) -> list[str]:
    if len(sentence) <= max_chars:
        return [sentence]
    pieces: list[str] = []
    current = ""
    for part in _CLAUSE_END.split(sentence):
        for word in part.split(" ") if len(part) > max_chars else [part]:
            joiner = " " if current else ""
            if len(current) + len(joiner) + len(word) > max_chars and current:
                pieces.append(current)
                current = word
            else:
                current = current + joiner + word
    if current:
        pieces.append(current)
    return pieces
