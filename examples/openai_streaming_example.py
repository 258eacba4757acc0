"""Streamed speech through the official `openai` client: audio written as it arrives, then the SSE variant.

`with_streaming_response` hands over the body as the server sends it; `extra_body={"stream": True}` asks
this server to send the audio as it is generated. With `stream_format="sse"` the audio comes as
`speech.audio.delta` events (base64) and a final `speech.audio.done` with usage.

    python examples/openai_streaming_example.py --url http://localhost:8000/v1 --out out
"""

from __future__ import annotations

import argparse
import base64
import json
import time
from pathlib import Path

from openai import OpenAI


def stream_audio(client: OpenAI, args: argparse.Namespace) -> None:
    path = args.out / f"openai_stream.{args.format}"
    start = time.perf_counter()
    first = None
    with (
        client.audio.speech.with_streaming_response.create(
            model="tts-1",
            voice=args.voice,
            input=args.text,
            response_format=args.format,
            extra_body={"stream": True, **args.extra},
        ) as response,
        path.open("wb") as handle,
    ):
        for chunk in response.iter_bytes():
            first = first or time.perf_counter() - start
            handle.write(chunk)
    print(f"streamed audio -> {path} ({path.stat().st_size} bytes, first bytes after {first * 1000:.0f} ms)")


def stream_sse(client: OpenAI, args: argparse.Namespace) -> None:
    path = args.out / f"openai_sse.{args.format}"
    with (
        client.audio.speech.with_streaming_response.create(
            model="tts-1",
            voice=args.voice,
            input=args.text,
            response_format=args.format,
            stream_format="sse",
            extra_body=args.extra,
        ) as response,
        path.open("wb") as handle,
    ):
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[len("data: ") :])
            if event["type"] == "speech.audio.delta":
                handle.write(base64.b64decode(event["audio"]))
            elif event["type"] == "speech.audio.done":
                print(f"usage: {event['usage']}")
    print(f"SSE audio -> {path} ({path.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8000/v1")
    parser.add_argument("--api-key", default="not-needed-locally")
    parser.add_argument("--voice", default="alloy")
    parser.add_argument("--text", default="Hello! This audio is written to the file while it is being generated.")
    parser.add_argument("--format", default="mp3", choices=["mp3", "opus", "aac", "flac", "wav", "pcm"])
    parser.add_argument("--max-audio-length-ms", type=int, help="cap on the audio (useful with tiny-random)")
    parser.add_argument("--out", default="out", type=Path)
    args = parser.parse_args()
    args.out.mkdir(exist_ok=True)
    args.extra = {"max_audio_length_ms": args.max_audio_length_ms} if args.max_audio_length_ms else {}
    client = OpenAI(base_url=args.url, api_key=args.api_key)
    stream_audio(client, args)
    stream_sse(client, args)


if __name__ == "__main__":
    main()
