"""The one sentence segmenter: text into the pieces the model speaks one at a time.

The engine splits a whole text with `split_sentences`; a streaming session cuts text as it arrives with
`segment_text`, earlier (at clauses once a sentence is long) so that audio can start. Text is buffered
until a sentence ends; a sentence that grows long without ending is cut at its last
clause boundary (a comma, semicolon, colon or dash followed by a space), and, with none, at its last
space once it reaches `max_chars`. On the final chunk everything left is spoken. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

LONG_CHARS = 200
MAX_CHARS = 300

# A sentence ends at . ! ? … (and CJK ones), with any closing quotes or brackets, before a space or
# the end of the text received so far.
_SENTENCE_END = re.compile(r"[.!?…。！？]+[\"'”’)\]]*(?=\s|$)")
_CLAUSE_END = re.compile(r"[,;:—–](?=\s)")
_WORD = re.compile(r"\w")


@dataclass(frozen=True)
class Segmented:
    """Segments ready to be spoken, in order, and the text kept for later."""

    segments: list[str] = field(default_factory=list)
    rest: str = ""


def segment_text(buffer: str, *, is_final: bool, long_chars: int = LONG_CHARS, max_chars: int = MAX_CHARS) -> Segmented:
    """Splits `buffer` (earlier text plus the new chunk) into segments to speak now and the rest to keep.

    Chunks may cut words anywhere, so the rest is kept as received (only leading space is dropped) and
    the caller appends the next chunk to it as is. Segments with no letter or digit are dropped.
    """
    segments: list[str] = []
    rest = buffer.lstrip()
    while rest:
        cut = _sentence_cut(rest)
        if (cut is None and len(rest) > long_chars) or (cut is not None and cut > max_chars):
            cut = _long_cut(rest, max_chars)  # a sentence too long to speak whole
        if cut is None:
            break
        segments.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if is_final:
        segments.append(rest.strip())
        rest = ""
    return Segmented([segment for segment in segments if _WORD.search(segment)], rest)


def _sentence_cut(text: str) -> int | None:
    """Where the first complete sentence ends, or None."""
    for match in _SENTENCE_END.finditer(text):
        at_end = match.end() == len(text)
        # "3." at the end of what arrived so far may be the start of "3.14": wait for the next chunk.
        if at_end and match.group() == "." and match.start() > 0 and text[match.start() - 1].isdigit():
            continue
        return match.end()
    return None


def _long_cut(text: str, max_chars: int) -> int | None:
    """For a long unfinished sentence: after its last clause boundary, else at the last space once it is
    `max_chars` long (or at `max_chars` when it has no space at all); None to keep waiting."""
    clauses = [match.end() for match in _CLAUSE_END.finditer(text, 0, max_chars)]
    if clauses:
        return clauses[-1]
    if len(text) < max_chars:
        return None
    space = text.rfind(" ", 0, max_chars)
    return space if space > 0 else max_chars


def split_sentences(text: str, *, max_chars: int = MAX_CHARS) -> list[str]:
    """The pieces of a whole text, in order: its sentences, those over `max_chars` cut at clauses, then at
    spaces. A whole text waits for no more chunks, so only what cannot be spoken whole is cut: a segment
    `segment_text` made comes back as the one piece it is."""
    return segment_text(text, is_final=True, long_chars=max_chars, max_chars=max_chars).segments
