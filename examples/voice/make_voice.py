"""Remakes sample.wav and consent.wav from their transcripts with espeak-ng (apt-get install espeak-ng).

    .venv/bin/python examples/voice/make_voice.py

espeak-ng writes 22.05 kHz WAV; this resamples it to 16 kHz mono 16-bit PCM with PyAV and soxr.
"""

import subprocess
import tempfile
from pathlib import Path

import av
import numpy as np
import soxr

HERE = Path(__file__).resolve().parent
RATE = 16_000


def speak(text: str, out: Path) -> None:
    with tempfile.TemporaryDirectory() as folder:
        raw = Path(folder) / "espeak.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
        with av.open(str(raw)) as container:
            stream = container.streams.audio[0]
            rate = stream.codec_context.sample_rate
            pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(stream)])
    samples = np.round(np.clip(soxr.resample(pcm / 32768, rate, RATE), -1, 1) * 32767).astype(np.int16)
    with av.open(str(out), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=RATE, layout="mono")
        frame = av.AudioFrame.from_ndarray(samples[None], format="s16", layout="mono")
        frame.sample_rate = RATE
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


if __name__ == "__main__":
    for name in ("sample", "consent"):
        speak((HERE / f"{name}.txt").read_text().strip(), HERE / f"{name}.wav")
