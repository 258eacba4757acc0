"""Decoding responses back with PyAV to check format, rate and duration."""

from __future__ import annotations

import io
from dataclasses import dataclass

import av

# What the contract says each format's Content-Type is (kept apart from the code under test).
CONTENT_TYPES = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}

# format -> (container name, a word in the decoder's name)
FORMAT_CODECS = {
    "mp3": ("mp3", "mp3"),
    "opus": ("ogg", "opus"),
    "aac": ("aac", "aac"),
    "flac": ("flac", "flac"),
    "wav": ("wav", "pcm_s16le"),
}


@dataclass
class Decoded:
    container: str
    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds of decoded samples


def decode(data: bytes, fmt: str) -> Decoded:
    """Decodes every frame (not the container's claim) to measure the real duration."""
    if fmt == "pcm":
        return Decoded("pcm", "pcm_s16le", 24_000, 1, len(data) / 2 / 24_000)
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        samples = 0
        rate = stream.codec_context.sample_rate
        for frame in container.decode(stream):
            samples += frame.samples
            rate = frame.sample_rate
        # Opus always decodes at 48 kHz; the rate it was made from is in its OpusHead header.
        reported_rate = _opus_input_rate(data) if fmt == "opus" else rate
        return Decoded(
            container.format.name,
            stream.codec_context.name,
            reported_rate,
            stream.codec_context.channels,
            samples / rate,
        )


def _opus_input_rate(data: bytes) -> int:
    """The input sample rate recorded in the OpusHead header."""
    head = data.find(b"OpusHead")
    return int.from_bytes(data[head + 12 : head + 16], "little")


def assert_format(decoded: Decoded, fmt: str) -> None:
    if fmt == "pcm":
        return
    container, codec = FORMAT_CODECS[fmt]
    assert container in decoded.container.split(","), decoded
    assert codec in decoded.codec, decoded
