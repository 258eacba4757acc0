"""Speech through the official `openai` client. Our extra fields go in `extra_body`.

It also clones the sample (default: examples/voice/sample.wav, its transcript the .txt file beside it):
once for one request (a base64 sample), then the OpenAI custom-voices flow: a consent recording
(default: examples/voice/consent.wav), a saved voice made from the sample and that consent, speech with
`voice={"id": ...}`, and both deleted again. With CSM_REQUIRE_API_KEY on, pass a key from
`make api-key NAME=...` as --api-key.

    python examples/openai_client_example.py --url http://localhost:8000/v1 --sample examples/voice/sample.wav
"""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

from openai import OpenAI

VOICE = Path(__file__).resolve().parent / "voice"


def transcript_of(sample: Path) -> str:
    """What a sample says: the text file beside it (sample.wav -> sample.txt), if there is one."""
    text = sample.with_suffix(".txt")
    return text.read_text().strip() if text.is_file() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8000/v1")
    parser.add_argument("--api-key", default="not-needed-locally")
    parser.add_argument("--sample", default=VOICE / "sample.wav", type=Path, help="a 1-30 s recording to clone")
    parser.add_argument("--transcript", help="what the sample says (default: the .txt file beside it)")
    parser.add_argument("--consent", default=VOICE / "consent.wav", type=Path, help="the consent recording")
    parser.add_argument("--language", default="en-US", help="BCP 47 language of the consent phrase")
    parser.add_argument("--text", default="Hello from csm-voice-api, through the official OpenAI client.")
    parser.add_argument("--out", default="out", type=Path)
    args = parser.parse_args()
    if args.transcript is None:
        args.transcript = transcript_of(args.sample)
    args.out.mkdir(exist_ok=True)
    client = OpenAI(base_url=args.url, api_key=args.api_key)

    # A built-in voice name: uncloned speech unless an operator mapped it to a saved voice.
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input=args.text, response_format="mp3")
    speech.write_to_file(args.out / "openai_builtin.mp3")
    print(f"built-in voice -> {args.out / 'openai_builtin.mp3'}")

    # Cloning for this request only: the client refuses unknown keywords, so they go in extra_body.
    speech = client.audio.speech.create(
        model="csm-1b",
        voice="alloy",
        input=args.text,
        response_format="wav",
        extra_body={
            "voice_sample": base64.b64encode(args.sample.read_bytes()).decode(),
            "voice_sample_text": args.transcript,
            "temperature": 0.6,
            "topk": 20,
        },
    )
    speech.write_to_file(args.out / "openai_cloned.wav")
    print(f"cloned voice -> {args.out / 'openai_cloned.wav'}")
    saved_voice_flow(client, args)


def saved_voice_flow(client: OpenAI, args: argparse.Namespace) -> None:
    """Consent -> voice -> speech with the saved voice -> delete both. The sample is encoded once, at creation."""
    consent = client.audio.voice_consents.create(name="Example consent", language=args.language, recording=args.consent)
    print(f"consent {consent.id} ({consent.language})")
    voice = client.audio.voices.create(
        name="example-voice",
        consent=consent.id,
        audio_sample=args.sample,
        extra_body={"transcript": args.transcript},  # our extra: what the sample says
    )
    print(f"voice {voice.id} '{voice.name}'")
    try:
        speech = client.audio.speech.create(
            model="tts-1", voice={"id": voice.id}, input=args.text, response_format="wav"
        )
        speech.write_to_file(args.out / "openai_saved_voice.wav")
        print(f"saved voice -> {args.out / 'openai_saved_voice.wav'}")
    finally:
        print(f"deleted: {client.audio.voices.delete(voice.id).id}", end=", ")
        print(client.audio.voice_consents.delete(consent.id).id)


if __name__ == "__main__":
    main()
