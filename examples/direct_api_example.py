"""Clone a voice and speak with it through the plain HTTP API (requests).

    python examples/direct_api_example.py --url http://localhost:8000 --sample examples/voice/sample.wav

The sample defaults to examples/voice/sample.wav, and its transcript to the .txt file beside the sample.
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

import requests

VOICE = Path(__file__).resolve().parent / "voice"


def transcript_of(sample: Path) -> str:
    """What a sample says: the text file beside it (sample.wav -> sample.txt), if there is one."""
    text = sample.with_suffix(".txt")
    return text.read_text().strip() if text.is_file() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8000")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--sample", default=VOICE / "sample.wav", type=Path, help="a 1-30 s recording of the voice")
    parser.add_argument("--transcript", help="what the sample says (default: the .txt file beside it)")
    parser.add_argument("--text", default="Hello! This is my cloned voice, speaking through csm-voice-api.")
    parser.add_argument("--out", default="out", type=Path)
    args = parser.parse_args()
    if args.transcript is None:
        args.transcript = transcript_of(args.sample)
    args.out.mkdir(exist_ok=True)
    session = requests.Session()
    if args.api_key:
        session.headers["Authorization"] = f"Bearer {args.api_key}"

    # 1. The seed's native endpoint: multipart upload, the clip is stored and its URL returned.
    with args.sample.open("rb") as sample:
        response = session.post(
            f"{args.url}/v1/voice-clone",
            files={"audio_file": sample},
            data={"text": args.text, "context_text": args.transcript, "output_format": "mp3"},
            timeout=600,
        )
    response.raise_for_status()
    result = response.json()
    print(f"voice-clone: {result['duration_seconds']:.2f} s at {result['audio_url']}")
    clip = session.get(args.url + result["audio_url"], timeout=60)
    clip.raise_for_status()
    (args.out / "voice_clone.mp3").write_bytes(clip.content)

    # 2. The OpenAI-compatible endpoint, cloning from a base64 sample for this request only.
    response = session.post(
        f"{args.url}/v1/audio/speech",
        json={
            "model": "csm-1b",
            "voice": "alloy",
            "input": args.text,
            "response_format": "wav",
            "voice_sample": base64.b64encode(args.sample.read_bytes()).decode(),
            "voice_sample_text": args.transcript,
        },
        timeout=600,
    )
    response.raise_for_status()
    (args.out / "speech.wav").write_bytes(response.content)
    print(f"speech: {len(response.content)} bytes of {response.headers['Content-Type']} in {args.out}/speech.wav")


if __name__ == "__main__":
    main()
