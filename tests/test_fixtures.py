"""The generated test audio is what tests/fixtures.py says it is, so the tests over it test what they claim."""

import av
import numpy as np
import pytest

from tests import fixtures

# encoder -> the decoder FFmpeg picks for what it wrote
DECODERS = {"libmp3lame": "mp3float", "libopus": "opus"}


@pytest.mark.parametrize("sample", fixtures.SAMPLES, ids=lambda sample: sample.file)
def test_each_sample_has_its_codec_rate_layout_and_length(test_audio, sample: fixtures.Sample) -> None:
    with av.open(str(fixtures.AUDIO_DIR / sample.file)) as container:
        stream = container.streams.audio[0]
        frames = list(container.decode(stream))
        context = stream.codec_context
        assert (context.sample_rate, context.channels) == (sample.sample_rate, sample.channels)
        assert context.name == DECODERS.get(sample.codec, sample.codec)
        pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in frames]).astype(np.float32)
    seconds = sum(frame.samples for frame in frames) / sample.sample_rate
    assert seconds == pytest.approx(sample.seconds, abs=0.1)
    assert np.abs(pcm).max() > 0.1 * (32767 if pcm.max() > 1 else 1)


def test_the_manifest_lists_every_sample_with_its_transcript(test_audio) -> None:
    entries = fixtures.manifest_entries()
    generated = [entry for entry in entries if entry["path"].parent == fixtures.AUDIO_DIR]
    assert [entry["file"] for entry in generated] == [sample.file for sample in fixtures.SAMPLES]
    assert all(entry["transcript"] and entry["path"].is_file() for entry in entries)


def test_the_bad_inputs_are_what_their_names_say(test_audio) -> None:
    bad = fixtures.BAD_AUDIO_DIR
    assert sorted(path.name for path in bad.iterdir()) == sorted(fixtures.BAD_AUDIO)
    assert (bad / "empty.wav").read_bytes() == b""
    assert (bad / "truncated_header.wav").read_bytes() == (fixtures.AUDIO_DIR / "alice_16k_mono.wav").read_bytes()[:60]
    with av.open(str(bad / "nan_float.wav")) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_f32le"
        pcm = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
    assert len(pcm) == 48_000 and np.isnan(pcm).all()
    with av.open(str(bad / "silence_2s.wav")) as container:
        assert not any(frame.to_ndarray().any() for frame in container.decode(audio=0))
