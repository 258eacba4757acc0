"""Audio in and out: decode uploaded voice samples, change tempo, encode speech.

Everything here works on mono float32 numpy arrays at SAMPLE_RATE (24 kHz), the rate CSM
produces. Decoding and encoding use FFmpeg through PyAV; resampling uses soxr.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
import av.filter
import numpy as np
import soxr

from .errors import AudioTooLarge, InvalidAudio, ServiceError

SAMPLE_RATE = 24_000
CONTENT_TYPES: dict[str, str] = {
    "mp3": "audio/mpeg",
    "opus": "audio/opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "wav": "audio/wav",
    "pcm": "audio/pcm",
}
FORMATS = tuple(CONTENT_TYPES)
MAX_SAMPLE_BYTES = 10 * 1024 * 1024
MIN_SAMPLE_SECONDS = 1.0
MAX_SAMPLE_SECONDS = 30.0
SILENCE_PEAK = 1e-3
MAX_SAMPLE_PEAK = 16.0  # float samples beyond this (24 dB over full scale) are broken, not loud
MIN_SPEED, MAX_SPEED = 0.25, 4.0

_TIME_BASE = Fraction(1, SAMPLE_RATE)
# What FFmpeg and the Python I/O glue raise on bad input; av.FFmpegError covers the demuxers and decoders.
_DECODE_ERRORS = (av.FFmpegError, ValueError, OSError, EOFError, IndexError, RuntimeError)

# fmt -> (muxer, encoder, bit rate or None, muxer options).
# ogg: a page at least every 100 ms, so streamed opus leaves in small steps (the default is 1 s).
_CONTAINERS: dict[str, tuple[str, str, int | None, dict[str, str]]] = {
    "mp3": ("mp3", "libmp3lame", 64_000, {}),
    "opus": ("ogg", "libopus", 32_000, {"page_duration": "100000"}),
    "aac": ("adts", "aac", 64_000, {}),
    "flac": ("flac", "flac", None, {}),
}

# Metadata keys -> RIFF INFO chunk ids.
_INFO_IDS = {
    "title": b"INAM",
    "comment": b"ICMT",
    "encoder": b"ISFT",
    "software": b"ISFT",
    "artist": b"IART",
    "copyright": b"ICOP",
    "date": b"ICRD",
}


def load_voice_sample(data: bytes, *, param: str = "audio_file") -> np.ndarray:
    """Decode an uploaded voice sample to mono float32 at 24 kHz, in [-1, 1].

    Accepts anything FFmpeg reads, at any rate and channel count. Refuses, with errors naming `param`:
    more than MAX_SAMPLE_BYTES (AudioTooLarge); empty, undecodable or no audio stream, shorter than
    MIN_SAMPLE_SECONDS or longer than MAX_SAMPLE_SECONDS, or silent (InvalidAudio).
    """
    if len(data) > MAX_SAMPLE_BYTES:
        raise AudioTooLarge(
            f"The audio file is {len(data):,} bytes; the limit is {MAX_SAMPLE_BYTES:,} bytes "
            f"({MAX_SAMPLE_BYTES // 2**20} MiB).",
            param=param,
        )
    try:
        pcm, duration = decode_audio(data, max_seconds=MAX_SAMPLE_SECONDS)
    except InvalidAudio as exc:
        exc.param = param
        raise
    if duration < MIN_SAMPLE_SECONDS:
        raise InvalidAudio(
            f"The voice sample is {duration:.2f} s long; it must be at least {MIN_SAMPLE_SECONDS:g} s.",
            param=param,
        )
    if duration > MAX_SAMPLE_SECONDS:
        raise InvalidAudio(
            f"The voice sample is {duration:.1f} s long; it must be at most {MAX_SAMPLE_SECONDS:g} s.",
            param=param,
        )
    if not pcm.size or float(np.max(np.abs(pcm))) < SILENCE_PEAK:
        raise InvalidAudio("The voice sample contains no sound: it is silent.", param=param)
    return pcm


def decode_audio(data: bytes, *, max_seconds: float | None = None) -> tuple[np.ndarray, float]:
    """Decode the first audio stream of `data`: mono float32 at 24 kHz, and the original duration in seconds.

    With `max_seconds`, decoding stops soon after that much audio (a small, highly compressed upload
    cannot expand into gigabytes); the samples are then cut short and the duration is the container's
    own figure if larger. Raises InvalidAudio for anything that is not decodable audio.
    """
    if not data:
        raise InvalidAudio("The audio file is empty.")
    chunks: list[np.ndarray] = []
    rate = decoded = 0
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise InvalidAudio("The file has no audio stream.")
            stream = container.streams.audio[0]
            # Packed float at the source layout and rate, then a plain mean of the channels, which cannot
            # clip (FFmpeg's rematrixing boosts or sums some layouts). Not planar: PyAV's to_ndarray()
            # crashes on planar frames with 8 or more channels.
            to_float = av.AudioResampler(format="flt")
            for frame in container.decode(stream):
                rate = rate or frame.sample_rate
                for out in to_float.resample(frame):
                    chunks.append(_mono(out))
                    decoded += out.samples
                if max_seconds is not None and decoded > (max_seconds + 1) * rate:
                    break
            else:
                for out in to_float.resample(None):
                    chunks.append(_mono(out))
                    decoded += out.samples
            declared = container.duration / av.time_base if container.duration else 0.0
    except InvalidAudio:
        raise
    except _DECODE_ERRORS as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InvalidAudio(f"The file could not be decoded as audio: {reason}.") from exc
    if not decoded:
        raise InvalidAudio("The file contains no audio samples.")
    duration = decoded / rate
    if max_seconds is not None and duration > max_seconds:
        duration = max(duration, declared)
    pcm = _checked_levels(np.concatenate(chunks).astype(np.float32))
    return np.clip(resample(pcm, rate, SAMPLE_RATE), -1.0, 1.0), duration


def join(chunks: list[np.ndarray]) -> np.ndarray:
    """Chunks of 24 kHz float32 PCM as one array (empty for none)."""
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _checked_levels(pcm: np.ndarray) -> np.ndarray:
    """Decoded float samples clipped to [-1, 1]; InvalidAudio for NaN, infinities or absurd levels (a broken or
    forged file: cleaning them up silently would clone noise)."""
    if not np.isfinite(pcm).all():
        raise InvalidAudio(
            "The audio contains invalid sample values (NaN, infinite or too large to represent); "
            "it is not usable speech."
        )
    peak = float(np.max(np.abs(pcm))) if pcm.size else 0.0
    if peak > MAX_SAMPLE_PEAK:
        raise InvalidAudio(
            f"The audio's sample values reach {peak:.3g}, far outside the range [-1, 1] of audio "
            f"(at most {MAX_SAMPLE_PEAK:g} is accepted); it is not usable speech."
        )
    return np.clip(pcm, -1.0, 1.0)


def resample(pcm: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample mono float audio with soxr (high quality); returns float32."""
    pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
    if from_rate == to_rate or not pcm.size:
        return pcm
    return soxr.resample(pcm, from_rate, to_rate).astype(np.float32, copy=False)


def change_speed(pcm: np.ndarray, speed: float) -> np.ndarray:
    """Change tempo by `speed` (0.25 to 4.0) keeping pitch, with FFmpeg's atempo filter.

    One atempo stage accepts 0.5 to 2.0, so larger changes chain several stages.
    """
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise ServiceError(f"speed must be between {MIN_SPEED:g} and {MAX_SPEED:g}.", param="speed")
    pcm = np.asarray(pcm, dtype=np.float32).reshape(-1)
    if speed == 1.0 or not pcm.size:
        return pcm
    stages = []
    while speed > 2.0:
        stages.append(2.0)
        speed /= 2.0
    while speed < 0.5:
        stages.append(0.5)
        speed /= 0.5
    stages.append(speed)

    graph = av.filter.Graph()
    nodes = [graph.add_abuffer(format="flt", sample_rate=SAMPLE_RATE, layout="mono", time_base=_TIME_BASE)]
    nodes += [graph.add("atempo", f"{stage:.6f}") for stage in stages]
    nodes += [graph.add("aformat", "sample_fmts=flt:channel_layouts=mono"), graph.add("abuffersink")]
    graph.link_nodes(*nodes).configure()
    graph.push(_frame(pcm, 0))
    graph.push(None)
    out: list[np.ndarray] = []
    while True:
        try:
            out.append(graph.pull().to_ndarray().reshape(-1))
        except (EOFError, BlockingIOError):
            break
    return np.concatenate(out) if out else np.zeros(0, dtype=np.float32)


def to_pcm16(pcm: np.ndarray) -> bytes:
    """Float audio in [-1, 1] -> little-endian signed 16-bit bytes (clipped)."""
    pcm = np.clip(np.asarray(pcm, dtype=np.float32).reshape(-1), -1.0, 1.0)
    return np.round(pcm * 32767.0).astype("<i2").tobytes()


def encode(pcm: np.ndarray, fmt: str, *, metadata: dict[str, str] | None = None) -> bytes:
    """Encode a whole clip (mono float32 at 24 kHz) to the bytes of a file of `fmt`."""
    encoder = StreamEncoder(fmt, metadata=metadata, streaming=False)
    return encoder.write(pcm) + encoder.close()


class StreamEncoder:
    """Incremental encoder: write() returns the bytes ready so far (maybe b""), close() the rest.

    Everything returned, concatenated, is one valid file of the format; nothing is encoded twice.
    `metadata` (title, comment, encoder/software...) goes where the format has a place for it:
    ID3 for mp3, Vorbis comments for opus and flac, a LIST/INFO chunk for wav; pcm and aac have none.
    In mp3, opus and flac FFmpeg overwrites "encoder" with its own name; "software" is kept as given.
    A streamed wav carries the 0xFFFFFFFF "unknown size" sentinel; with streaming=False it is
    buffered and gets its real sizes at close().
    """

    def __init__(self, fmt: str, *, metadata: dict[str, str] | None = None, streaming: bool = True) -> None:
        if fmt not in CONTENT_TYPES:
            raise InvalidAudio(
                f"Unsupported format {fmt!r}; use one of: {', '.join(FORMATS)}.", param="response_format"
            )
        self.fmt = fmt
        self.content_type = CONTENT_TYPES[fmt]
        self.streaming = streaming
        self._metadata = dict(metadata or {})
        self._header_sent = False
        self._closed = False
        self._wav_data = bytearray()
        self._samples = 0
        if fmt in _CONTAINERS:
            muxer, codec, bit_rate, options = _CONTAINERS[fmt]
            # Streaming, the output cannot seek: muxers then write nothing they would come back to fill
            # in (mp3's Xing/LAME frame, flac's sample count), and flush_packets hands each packet over
            # at once. A whole clip gets a seekable output and so those headers.
            self._sink = _Sink(seekable=not streaming)
            options = dict(options)
            if streaming:
                options["flush_packets"] = "1"
                if fmt == "mp3":
                    options["write_xing"] = "0"  # FFmpeg skips it anyway on a non-seekable output
            self._container = av.open(self._sink, mode="w", format=muxer, container_options=options)
            self._container.metadata.update(self._metadata)
            self._stream = self._container.add_stream(codec, rate=SAMPLE_RATE, layout="mono")
            if bit_rate:
                self._stream.bit_rate = bit_rate
            self._container.start_encoding()

    def write(self, pcm: np.ndarray) -> bytes:
        """Encode one chunk of mono float32 24 kHz audio; return the bytes that are ready."""
        if self._closed:
            raise ValueError("StreamEncoder is closed")
        pcm = np.clip(np.asarray(pcm, dtype=np.float32).reshape(-1), -1.0, 1.0)
        if self.fmt == "pcm":
            return to_pcm16(pcm)
        if self.fmt == "wav":
            if not self.streaming:
                self._wav_data += to_pcm16(pcm)
                return b""
            return self._wav_header(None) + to_pcm16(pcm)
        if pcm.size:
            self._container.mux(self._stream.encode(_frame(pcm, self._samples)))
            self._samples += pcm.size
        return self._sink.take() if self.streaming else b""

    def close(self) -> bytes:
        """Flush the encoder and return the last bytes (the whole file for a non-streaming wav)."""
        if self._closed:
            return b""
        self._closed = True
        if self.fmt == "pcm":
            return b""
        if self.fmt == "wav":
            if self.streaming:
                return self._wav_header(None)
            return self._wav_header(len(self._wav_data)) + bytes(self._wav_data)
        self._container.mux(self._stream.encode(None))
        self._container.close()
        return self._sink.take()

    def _wav_header(self, data_size: int | None) -> bytes:
        """The RIFF header up to the data chunk's size, once; b"" after that. None means unknown size."""
        if self._header_sent:
            return b""
        self._header_sent = True
        fmt_chunk = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
        info = _info_chunk(self._metadata)
        if data_size is None:
            riff_size = data_size = 0xFFFFFFFF
        else:
            riff_size = 4 + len(fmt_chunk) + len(info) + 8 + data_size
        riff = struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        return riff + fmt_chunk + info + struct.pack("<4sI", b"data", data_size)


class _Sink(io.BytesIO):
    """In-memory output file for a muxer; take() returns what was written and empties it.

    With seekable=False it tells FFmpeg it cannot seek, so no muxer goes back over bytes already sent.
    """

    def __init__(self, *, seekable: bool) -> None:
        super().__init__()
        self._seekable = seekable

    def seekable(self) -> bool:
        return self._seekable

    def take(self) -> bytes:
        data = self.getvalue()
        self.seek(0)
        self.truncate()
        return data


def _mono(frame: av.AudioFrame) -> np.ndarray:
    """Mean of the channels of a packed audio frame."""
    return frame.to_ndarray().reshape(-1, frame.layout.nb_channels).mean(axis=1)


def _frame(pcm: np.ndarray, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="flt", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    frame.pts = pts
    frame.time_base = _TIME_BASE
    return frame


def _info_chunk(metadata: dict[str, str]) -> bytes:
    """A RIFF LIST/INFO chunk for the metadata keys wav has an id for (b"" when none)."""
    entries: dict[bytes, bytes] = {}
    for key, value in metadata.items():
        chunk_id = _INFO_IDS.get(key.lower())
        if chunk_id and chunk_id not in entries:
            text = value.encode() + b"\0"
            entries[chunk_id] = chunk_id + struct.pack("<I", len(text)) + text + b"\0" * (len(text) % 2)
    if not entries:
        return b""
    body = b"INFO" + b"".join(entries.values())
    return b"LIST" + struct.pack("<I", len(body)) + body
