"""The suite's test audio, generated with PyAV when the session starts (see `generate`).

Every format and layout a voice sample may come in, each with a speech-like signal (voiced harmonics
with a moving pitch, syllable-rate loudness and a little noise) and a transcript in `audio/manifest.json`;
and the bad inputs an upload must refuse, in `bad_audio/`. The files live in `GENERATED_DIR`, a temporary
folder made when this module is imported and filled by the session fixture in tests/conftest.py.

Where `$CSM_FIXTURES` or `<repo>/../shared/fixtures` exists (`SHARED_DIR`), its recordings add cases to
the tests that run over every sample; nothing depends on it.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

REPO_DIR = Path(__file__).resolve().parents[1]
GENERATED_DIR = Path(tempfile.mkdtemp(prefix="csm-test-audio-"))
AUDIO_DIR = GENERATED_DIR / "audio"
BAD_AUDIO_DIR = GENERATED_DIR / "bad_audio"
SAMPLE = AUDIO_DIR / "alice_16k_mono.wav"


def _shared_dir() -> Path | None:
    path = Path(os.environ.get("CSM_FIXTURES") or REPO_DIR.parent / "shared" / "fixtures")
    return path if (path / "audio" / "manifest.json").is_file() else None


SHARED_DIR = _shared_dir()

ALICE = "The quick brown fox jumps over the lazy dog. A voice sample should be clear and steady."
BOB = "Hello there, this is a short recording of my voice, made for testing voice cloning."
CAROL = "Streaming speech lets a listener hear the first words before the last ones are written."
DAVE = "Please read numbers like 1,234 and dates like March 3rd, 2026 carefully."


@dataclass(frozen=True)
class Sample:
    """One generated voice sample: how it is stored and what it "says"."""

    file: str
    muxer: str
    codec: str
    sample_rate: int
    layout: str  # mono, stereo, 5.1
    seconds: float
    pitch: float  # mean fundamental frequency, Hz
    transcript: str
    sample_format: str = "s16"

    @property
    def channels(self) -> int:
        return av.AudioLayout(self.layout).nb_channels


SAMPLES = [
    Sample("alice_16k_mono.wav", "wav", "pcm_s16le", 16_000, "mono", 6.5, 210, ALICE),
    Sample("alice_44k.m4a", "ipod", "aac", 44_100, "mono", 6.5, 210, ALICE, "fltp"),
    Sample("bob_44k_stereo.mp3", "mp3", "libmp3lame", 44_100, "stereo", 5.5, 115, BOB, "fltp"),
    Sample("bob_48k.webm", "webm", "libopus", 48_000, "mono", 5.5, 115, BOB),
    Sample("carol_22k_float.wav", "wav", "pcm_f32le", 22_050, "mono", 5.0, 180, CAROL, "flt"),
    # FFmpeg's own Vorbis encoder (the wheels have no libvorbis) is experimental and writes stereo only.
    Sample("carol_44k_stereo_vorbis.ogg", "ogg", "vorbis", 44_100, "stereo", 5.0, 180, CAROL, "fltp"),
    Sample("dave_24k.flac", "flac", "flac", 24_000, "mono", 6.0, 130, DAVE),
    Sample("six_channel_96k_2s.wav", "wav", "pcm_s16le", 96_000, "5.1", 2.0, 150, "Please read numbers like"),
]

# name -> what it is; every one but nan_float.wav must be refused by an upload (see test_audio.py).
BAD_AUDIO = {
    "empty.wav": "zero bytes",
    "truncated_header.wav": "the first 60 bytes of a WAV file",
    "not_audio.mp3": "plain text with an audio file name",
    "blip_0.2s.wav": "a 0.2 second tone, shorter than a voice sample may be",
    "silence_2s.wav": "2 seconds of digital silence: valid audio with no sound in it",
    "noise_45s.wav": "45 seconds of noise, longer than a voice sample may be",
    "nan_float.wav": "a 2 second float WAV whose samples are all NaN",
}


def speech_like(seconds: float, rate: int, *, pitch: float, seed: int = 0) -> np.ndarray:
    """Mono float32 in [-0.6, 0.6]: voiced harmonics under a moving pitch, shaped into syllables and
    words (about 4 syllables a second, short pauses between words), over a little breath noise."""
    rng = np.random.default_rng(seed)
    n = round(seconds * rate)
    t = np.arange(n) / rate
    f0 = pitch * (1 + 0.12 * np.sin(2 * np.pi * 0.35 * t) + 0.05 * np.sin(2 * np.pi * 1.7 * t + rng.uniform(0, 6)))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = np.zeros(n)
    for k in range(1, int(min(4000, 0.4 * rate) / (1.2 * pitch)) + 1):  # harmonics up to about 4 kHz
        # Two formant-like bumps (around 700 Hz and 1800 Hz) over a falling spectrum.
        frequency = k * pitch
        weight = (1 + 2 * np.exp(-(((frequency - 700) / 300) ** 2)) + np.exp(-(((frequency - 1800) / 400) ** 2))) / k
        voiced += weight * np.sin(k * phase)
    envelope = np.zeros(n)
    start = round(0.1 * rate)
    while start < n:
        syllable = round(rng.uniform(0.15, 0.3) * rate)
        stop = min(start + syllable, n)
        envelope[start:stop] = np.sin(np.pi * np.arange(stop - start) / syllable) ** 0.7
        start = stop + round((rng.uniform(0.12, 0.3) if rng.random() < 0.25 else rng.uniform(0.0, 0.04)) * rate)
    signal = voiced * envelope + 0.02 * rng.standard_normal(n) * (0.3 + envelope)
    return (0.6 * signal / np.abs(signal).max()).astype(np.float32)


def encode(path: Path, pcm: np.ndarray, *, muxer: str, codec: str, rate: int, layout: str, sample_format: str) -> None:
    """Writes planar-or-packed `pcm` (channels x samples, float in [-1, 1]) with PyAV."""
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        stream.format = sample_format
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        frame_size = stream.codec_context.frame_size or 1024
        for start in range(0, pcm.shape[1], frame_size):
            chunk = pcm[:, start : start + frame_size]
            if sample_format.startswith("s16"):
                chunk = np.round(np.clip(chunk, -1, 1) * 32767).astype(np.int16)
            else:
                chunk = chunk.astype(np.float32)
            planar = sample_format.endswith("p")
            frame = av.AudioFrame.from_ndarray(
                chunk if planar else np.ascontiguousarray(chunk.T).reshape(1, -1), format=sample_format, layout=layout
            )
            frame.sample_rate = rate
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def _write_sample(sample: Sample, seed: int) -> None:
    mono = speech_like(sample.seconds, sample.sample_rate, pitch=sample.pitch, seed=seed)
    # Each channel a little different (a room, two microphones), so a downmix is not a plain copy.
    pcm = np.stack([mono * (1 - 0.1 * channel) for channel in range(sample.channels)])
    encode(
        AUDIO_DIR / sample.file,
        pcm,
        muxer=sample.muxer,
        codec=sample.codec,
        rate=sample.sample_rate,
        layout=sample.layout,
        sample_format=sample.sample_format,
    )


def _write_wav(name: str, pcm: np.ndarray, rate: int, *, sample_format: str = "s16") -> None:
    codec = "pcm_f32le" if sample_format == "flt" else "pcm_s16le"
    path = BAD_AUDIO_DIR / name
    encode(path, pcm[None], muxer="wav", codec=codec, rate=rate, layout="mono", sample_format=sample_format)


def generate() -> None:
    """Fills GENERATED_DIR: audio/ (every sample and manifest.json) and bad_audio/."""
    AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    BAD_AUDIO_DIR.mkdir(parents=True, exist_ok=True)
    for seed, sample in enumerate(SAMPLES):
        _write_sample(sample, seed)
    manifest = {
        "about": "Speech-like signals generated by tests/fixtures.py, in every format and layout a sample may come in.",
        "samples": [
            {
                "file": s.file,
                "codec": s.codec,
                "sample_rate": s.sample_rate,
                "channels": s.channels,
                "seconds": s.seconds,
                "transcript": s.transcript,
            }
            for s in SAMPLES
        ],
    }
    (AUDIO_DIR / "manifest.json").write_text(json.dumps(manifest, indent=2))

    rng = np.random.default_rng(99)
    (BAD_AUDIO_DIR / "empty.wav").write_bytes(b"")
    (BAD_AUDIO_DIR / "not_audio.mp3").write_text("This is a text file, not audio, whatever its name says.\n")
    _write_wav("blip_0.2s.wav", 0.5 * np.sin(2 * np.pi * 440 * np.arange(round(0.2 * 24_000)) / 24_000), 24_000)
    _write_wav("silence_2s.wav", np.zeros(2 * 24_000), 24_000)
    _write_wav("noise_45s.wav", np.clip(0.2 * rng.standard_normal(45 * 16_000), -1, 1), 16_000)
    _write_wav("nan_float.wav", np.full(2 * 24_000, np.nan), 24_000, sample_format="flt")
    (BAD_AUDIO_DIR / "truncated_header.wav").write_bytes((AUDIO_DIR / "alice_16k_mono.wav").read_bytes()[:60])


def manifest_entries() -> list[dict]:
    """Every sample with its transcript and `path`: the generated ones, then the shared ones if present."""
    entries = [{**entry, "path": AUDIO_DIR / entry["file"]} for entry in _read_manifest(AUDIO_DIR)]
    if SHARED_DIR:
        entries += [
            {**entry, "path": SHARED_DIR / "audio" / entry["file"]} for entry in _read_manifest(SHARED_DIR / "audio")
        ]
    return entries


def _read_manifest(folder: Path) -> list[dict]:
    return json.loads((folder / "manifest.json").read_text())["samples"]


def sample_paths() -> dict[str, Path]:
    """Every sample by test id (`generated/<file>`, `shared/<file>`), for parametrizing at collection time
    (the paths are known before the files are generated)."""
    paths = {f"generated/{sample.file}": AUDIO_DIR / sample.file for sample in SAMPLES}
    if SHARED_DIR:
        for entry in _read_manifest(SHARED_DIR / "audio"):
            paths[f"shared/{entry['file']}"] = SHARED_DIR / "audio" / entry["file"]
    return paths


def bad_audio_paths(name: str) -> dict[str, Path]:
    """A bad input by test id: the generated one, and the shared one of that name where present."""
    paths = {f"generated/{name}": BAD_AUDIO_DIR / name}
    if SHARED_DIR and (SHARED_DIR / "bad_audio" / name).is_file():
        paths[f"shared/{name}"] = SHARED_DIR / "bad_audio" / name
    return paths
