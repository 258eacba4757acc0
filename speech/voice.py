"""What a request speaks with, and the names and defaults that describe voices."""

from __future__ import annotations

from dataclasses import dataclass

from .engine.prompt import DEFAULT_SPEAKER, Segment

# OpenAI's built-in voice names: clients may send them; an operator maps each to a saved voice.
BUILTIN_VOICES = (
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse", "marin", "cedar",
)  # fmt: skip
# DEFAULT_SPEAKER (the engine's): OpenAI's speech endpoint and saved voices speak as it unless told otherwise.
SAMPLE_SPEAKER = 999  # the default speaker of /v1/voice-clone and streaming sessions (a sample or uncloned)
__all__ = ["BUILTIN_VOICES", "DEFAULT_SPEAKER", "SAMPLE_SPEAKER", "Voice"]


@dataclass
class Voice:
    """A speaker id and the context segments that carry the voice (a sample's codes and transcript).

    `sample` is the uploaded sample, kept with a clip; `saved_voice_id` and `consent_id` name the saved voice
    (and its consent) it came from, recorded on clips and sessions.
    """

    speaker: int
    context: list[Segment]
    sample: bytes | None = None
    sample_text: str = ""
    saved_voice_id: str | None = None
    consent_id: str | None = None
