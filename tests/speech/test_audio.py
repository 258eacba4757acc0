import io
import struct

import av
import numpy as np
import pytest

from speech import audio
from speech.errors import AudioTooLarge, InvalidAudio, ServiceError
from tests import fixtures

SR = audio.SAMPLE_RATE
TONE_SECONDS = 1.5
TONE = (0.5 * np.sin(2 * np.pi * 440 * np.arange(int(TONE_SECONDS * SR)) / SR)).astype(np.float32)
COMMENT = "AI-generated speech (synthetic) made by CSM-1B"
METADATA = {"title": "Test clip", "comment": COMMENT, "software": "csm-voice-api"}

# (demuxer name, codec name) each format must decode as.
CONTAINERS = {
    "mp3": ("mp3", "mp3float"),
    "opus": ("ogg", "opus"),
    "aac": ("aac", "aac"),
    "flac": ("flac", "flac"),
    "wav": ("wav", "pcm_s16le"),
}
# Codec padding a decoder may add: mp3 without a LAME tag keeps the encoder delay (1105 samples)
# and pads to a 576-sample frame; ADTS aac keeps its 1024-sample priming and pads to 1024.
SLACK = {"mp3": 1700 / SR, "aac": 2048 / SR}
# Uneven chunks: one 80 ms frame (1920 samples), tiny ones, an empty one, large ones.
CHUNK_EDGES = [1920, 1921, 1928, 1928, 2500, 2503, 9000, 20000, 20001, 30000]

SAMPLE_PATHS = fixtures.sample_paths()


def decode(data: bytes, fmt: str) -> tuple[np.ndarray, int]:
    """Decode with PyAV, checking container and codec: (mono samples, sample rate)."""
    if fmt == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768, SR
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert (container.format.name, stream.codec_context.name) == CONTAINERS[fmt]
        assert stream.codec_context.channels == 1
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(stream)]
        return np.concatenate([np.zeros(0, np.float32), *frames]), stream.codec_context.sample_rate


def tags(data: bytes) -> dict[str, str]:
    """Container and stream metadata (ogg puts Vorbis comments on the stream)."""
    with av.open(io.BytesIO(data)) as container:
        return {**container.metadata, **container.streams.audio[0].metadata}


def original_duration(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        return sum(frame.samples for frame in frames) / frames[0].sample_rate


def dominant_frequency(pcm: np.ndarray, rate: int = SR) -> float:
    return float(np.argmax(np.abs(np.fft.rfft(pcm)))) * rate / len(pcm)


# --- voice samples ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", SAMPLE_PATHS.values(), ids=SAMPLE_PATHS.keys())
def test_voice_sample_accepted(path) -> None:
    pcm = audio.load_voice_sample(path.read_bytes())
    assert pcm.dtype == np.float32
    assert pcm.ndim == 1
    assert np.abs(pcm).max() <= 1.0
    assert np.abs(pcm).max() > 0.05
    assert len(pcm) / SR == pytest.approx(original_duration(path), rel=0.05)


BAD_SAMPLES = [
    ("empty.wav", InvalidAudio, ["empty"]),
    ("truncated_header.wav", InvalidAudio, ["decoded"]),
    ("not_audio.mp3", InvalidAudio, ["decoded"]),
    ("noise_45s.wav", InvalidAudio, ["45.0 s", "30 s"]),
    ("blip_0.2s.wav", InvalidAudio, ["0.20 s", "1 s"]),
    ("silence_2s.wav", InvalidAudio, ["contains no sound"]),
]
BAD_CASES = [
    pytest.param(path, error, words, id=case)
    for name, error, words in BAD_SAMPLES
    for case, path in fixtures.bad_audio_paths(name).items()
]


@pytest.mark.parametrize(("path", "error", "words"), BAD_CASES)
def test_bad_voice_sample_refused(path, error: type[ServiceError], words: list[str]) -> None:
    with pytest.raises(error) as info:
        audio.load_voice_sample(path.read_bytes(), param="voice_sample")
    assert type(info.value) is error
    assert info.value.status == 400
    assert info.value.code == "invalid_audio"
    assert info.value.param == "voice_sample"
    for word in words:
        assert word in info.value.message


@pytest.mark.parametrize("channels", [2, 8, 16])
def test_many_channels_downmixed_without_clipping(channels: int) -> None:
    # PyAV crashes on planar frames with 8+ channels; FFmpeg's rematrix clips unknown layouts.
    rate = 16_000
    tone = np.round(0.3 * 32767 * np.sin(2 * np.pi * 300 * np.arange(2 * rate) / rate)).astype("<i2")
    samples = np.repeat(tone[:, None], channels, axis=1).tobytes()
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    riff = struct.pack("<4sI4s", b"RIFF", 4 + len(fmt) + 8 + len(samples), b"WAVE")
    pcm = audio.load_voice_sample(riff + fmt + struct.pack("<4sI", b"data", len(samples)) + samples)
    assert len(pcm) == 2 * SR
    assert np.abs(pcm).max() == pytest.approx(0.3, abs=0.01)


def test_too_large_voice_sample_refused() -> None:
    with pytest.raises(AudioTooLarge) as info:
        audio.load_voice_sample(b"\0" * (11 * 1024 * 1024))
    assert info.value.status == 413
    assert info.value.param == "audio_file"
    assert "10 MiB" in info.value.message


def test_decode_stops_early_but_reports_full_duration() -> None:
    noise = (fixtures.BAD_AUDIO_DIR / "noise_45s.wav").read_bytes()
    pcm, duration = audio.decode_audio(noise, max_seconds=30)
    assert duration == pytest.approx(45.0, abs=0.01)
    assert len(pcm) / SR < 35


# --- encoding --------------------------------------------------------------------------------


def test_unknown_format_refused() -> None:
    with pytest.raises(InvalidAudio) as info:
        audio.StreamEncoder("ogg-vorbis")
    assert info.value.param == "response_format"
    assert audio.FORMATS == ("mp3", "opus", "aac", "flac", "wav", "pcm")


def test_to_pcm16_clips() -> None:
    assert audio.to_pcm16(np.array([2.0, -2.0, 0.0, 0.5], dtype=np.float32)) == struct.pack(
        "<4h", 32767, -32767, 0, 16384
    )


@pytest.mark.parametrize("fmt", audio.FORMATS)
def test_encode_whole_clip(fmt: str) -> None:
    data = audio.encode(TONE, fmt, metadata=METADATA)
    pcm, rate = decode(data, fmt)
    if fmt == "pcm":
        assert len(data) == 2 * len(TONE)
    elif fmt == "opus":
        assert rate == 48_000  # Opus always decodes at 48 kHz; the input rate is in the OpusHead.
        head = data[data.index(b"OpusHead") :]
        assert head[9] == 1
        assert struct.unpack("<I", head[12:16])[0] == SR
    else:
        assert rate == SR
    # A whole clip gets a seekable output, so mp3 has a LAME tag and decodes gapless.
    slack = 0.06 if fmt != "aac" else SLACK["aac"]
    assert len(pcm) / rate == pytest.approx(TONE_SECONDS, abs=slack)
    assert dominant_frequency(pcm, rate) == pytest.approx(440, abs=5)


@pytest.mark.parametrize("fmt", audio.FORMATS)
def test_stream_encoder(fmt: str) -> None:
    encoder = audio.StreamEncoder(fmt, metadata=METADATA)
    assert encoder.content_type == audio.CONTENT_TYPES[fmt]
    written = [encoder.write(chunk) for chunk in np.split(TONE, CHUNK_EDGES)]
    tail = encoder.close()
    data = b"".join(written) + tail
    pcm, rate = decode(data, fmt)
    assert len(pcm) / rate == pytest.approx(TONE_SECONDS, abs=SLACK.get(fmt, 0.06))
    # Audio leaves before close(): what write() returned alone is already playable.
    early, _ = decode(b"".join(written), fmt)
    assert len(early) / rate >= 1.0
    if fmt in {"wav", "pcm"}:  # uncompressed: every sample leaves with the write() that brought it
        assert tail == b""
        assert data.endswith(audio.to_pcm16(TONE))
        assert all(len(out) >= 2 * len(chunk) for out, chunk in zip(written, np.split(TONE, CHUNK_EDGES), strict=True))


def test_wav_stream_header_has_size_sentinels() -> None:
    encoder = audio.StreamEncoder("wav")
    first = encoder.write(TONE[:1920])
    assert len(first) == 44 + 2 * 1920
    assert first[:4] == b"RIFF"
    assert first[8:16] == b"WAVEfmt "
    assert struct.unpack("<I", first[4:8])[0] == 0xFFFFFFFF
    assert first[36:40] == b"data"
    assert struct.unpack("<I", first[40:44])[0] == 0xFFFFFFFF
    assert struct.unpack("<HHIIHH", first[20:36]) == (1, 1, SR, 2 * SR, 2, 16)
    assert encoder.write(TONE[1920:]) == audio.to_pcm16(TONE[1920:])
    assert encoder.close() == b""


def test_wav_whole_clip_has_real_sizes() -> None:
    data = audio.encode(TONE, "wav", metadata=METADATA)
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    data_at = data.index(b"data")
    assert struct.unpack("<I", data[data_at + 4 : data_at + 8])[0] == 2 * len(TONE)
    assert data[data_at + 8 :] == audio.to_pcm16(TONE)
    assert data.index(b"LIST") < data_at  # INFO chunk before the samples


def test_empty_wav_is_valid() -> None:
    data = audio.encode(np.zeros(0, dtype=np.float32), "wav")
    assert len(data) == 44
    assert len(decode(data, "wav")[0]) == 0


@pytest.mark.parametrize("fmt", ["mp3", "opus", "flac", "wav"])
@pytest.mark.parametrize("streaming", [False, True])
def test_metadata_written(fmt: str, streaming: bool) -> None:
    encoder = audio.StreamEncoder(fmt, metadata=METADATA, streaming=streaming)
    data = encoder.write(TONE) + encoder.close()
    found = tags(data)
    assert found.get("comment") == COMMENT
    assert found.get("title") == "Test clip"
    if fmt == "wav":
        assert COMMENT.encode() in data
        assert b"ICMT" in data
        assert b"ISFT" in data


# --- speed -----------------------------------------------------------------------------------


@pytest.mark.parametrize("speed", [0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
def test_change_speed_keeps_pitch(speed: float) -> None:
    out = audio.change_speed(TONE, speed)
    assert out.dtype == np.float32
    assert len(out) / SR == pytest.approx(TONE_SECONDS / speed, rel=0.05)
    assert dominant_frequency(out) == pytest.approx(440, abs=5)


def test_change_speed_identity_and_limits() -> None:
    assert np.array_equal(audio.change_speed(TONE, 1.0), TONE)
    for speed in (0.2, 4.5):
        with pytest.raises(ServiceError) as info:
            audio.change_speed(TONE, speed)
        assert info.value.param == "speed"


def test_resample() -> None:
    out = audio.resample(TONE, SR, 16_000)
    assert out.dtype == np.float32
    assert len(out) == len(TONE) * 2 // 3
    assert dominant_frequency(out, 16_000) == pytest.approx(440, abs=5)
