"""POST /v1/voice-clone and GET /v1/audio/{filename} over real HTTP."""

import pytest

from tests.audio_checks import assert_format, decode
from tests.fixtures import BAD_AUDIO_DIR

FORMATS = ["wav", "mp3", "opus", "aac", "flac", "pcm"]


def clone(api, path, **fields):
    data = {"text": "Hello there.", "max_audio_length_ms": 480, **fields}
    with open(path, "rb") as sample:
        return api.post("/v1/voice-clone", files={"audio_file": (path.name, sample)}, data=data)


def test_every_fixture_sample_in_every_format(api, manifest):
    """Each sample (any container, rate and channel count) clones; each format decodes to 24 kHz mono."""
    for entry in manifest:
        for fmt in FORMATS:
            response = clone(api, entry["path"], context_text=entry["transcript"], output_format=fmt)
            assert response.status_code == 200, (entry["file"], fmt, response.text)
            result = response.json()
            assert result["duration_seconds"] == pytest.approx(0.48)
            assert result["audio_url"].startswith("/v1/audio/")
            stored = api.get(result["audio_url"])
            assert stored.status_code == 200
            decoded = decode(stored.content, fmt)
            assert_format(decoded, fmt)
            assert (decoded.sample_rate, decoded.channels) == (24_000, 1)
            assert decoded.duration == pytest.approx(0.48, abs=0.09), (entry["file"], fmt)


@pytest.mark.parametrize(
    ("name", "status", "words"),
    [
        ("empty.wav", 400, "empty"),
        ("truncated_header.wav", 400, "could not"),
        ("not_audio.mp3", 400, "could not"),
        ("noise_45s.wav", 400, "30"),
        ("blip_0.2s.wav", 400, "1"),
        ("silence_2s.wav", 400, "no sound"),
    ],
)
def test_bad_samples_get_a_clear_4xx_and_nothing_is_stored(api, name, status, words):
    from synthesis.models import Clip

    before = Clip.objects.count()
    response = clone(api, BAD_AUDIO_DIR / name)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["param"] == "audio_file"
    assert words in error["message"].lower()
    assert Clip.objects.count() == before


def test_oversized_sample_is_413(api, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (10 * 1024 * 1024 + 1))
    response = clone(api, big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "audio_too_large"


def test_missing_sample_and_bad_fields_are_400(api, sample_path):
    assert api.post("/v1/voice-clone", data={"text": "Hi"}).json()["error"]["param"] == "audio_file"
    assert clone(api, sample_path, text="").json()["error"]["param"] == "text"
    assert clone(api, sample_path, output_format="ogg").json()["error"]["param"] == "output_format"
    assert clone(api, sample_path, topk="many").status_code == 400


def test_a_sample_and_a_voice_id_together_are_refused(api, sample_path):
    """Both would be ambiguous (the voice_id used to be ignored silently)."""
    from synthesis.models import Clip

    response = clone(api, sample_path, voice_id="alloy")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == "voice_id"
    assert "not both" in error["message"]
    assert not Clip.objects.exists()


def test_clip_row_records_what_was_asked(api, sample_path):
    from synthesis.models import Clip

    response = clone(api, sample_path, context_text="The sample.", temperature=0.7, topk=5, speaker_id=7)
    clip = Clip.objects.get()
    assert response.json()["audio_url"] == f"/v1/audio/{clip.filename}"
    assert clip.text == "Hello there."
    assert clip.voice_sample_text == "The sample."
    asked = {"temperature": 0.7, "topk": 5, "max_audio_length_ms": 480, "seed": None, "speaker_id": 7}
    assert clip.parameters == asked  # seed None: none asked, the engine drew one
    assert clip.output_format == "wav"
    assert clip.voice_sample.read() == sample_path.read_bytes()


def test_range_requests(api, sample_path):
    url = clone(api, sample_path).json()["audio_url"]
    whole = api.get(url)
    assert whole.headers["Accept-Ranges"] == "bytes"
    part = api.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == whole.content[10:20]
    assert part.headers["Content-Range"] == f"bytes 10-19/{len(whole.content)}"
    tail = api.get(url, headers={"Range": "bytes=-4"})
    assert tail.content == whole.content[-4:]
    assert api.get(url, headers={"Range": "bytes=-"}).status_code == 200
    unsatisfiable = api.get(url, headers={"Range": f"bytes={len(whole.content)}-"})
    assert unsatisfiable.status_code == 416


@pytest.mark.parametrize(
    "name", ["0123456789abcdef0123456789abcdef.wav", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "clips%2Fx.wav"]
)
def test_unknown_names_and_path_tricks_are_404(api, name):
    response = api.get(f"/v1/audio/{name}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_streamed_clone_is_the_audio_itself(api, sample_path):
    response = clone(api, sample_path, stream="true", output_format="wav")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert decode(response.content, "wav").duration == pytest.approx(0.48, abs=0.01)
