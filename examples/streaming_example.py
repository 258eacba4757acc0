"""Text in as it is written, audio out as it is generated, over the streaming WebSocket.

Creates a streaming session from a voice sample, then runs two tasks on one WebSocket: a producer sending
the text a few words at a time (as an LLM would), and a consumer writing the audio to a file as it arrives
(`?mode=stream`: one continuous stream in the session's format, with JSON events between). Reports the
time from the first text sent to the first audio received. With CSM_REQUIRE_API_KEY on, pass --api-key.

    python examples/streaming_example.py --url http://localhost:8000 \
        --sample examples/voice/sample.wav \
        --text "Hello! This sentence is spoken while the next one is still being written." --out stream.wav
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import requests
import websockets

VOICE = Path(__file__).resolve().parent / "voice"


def transcript_of(sample: Path) -> str:
    """What a sample says: the text file beside it (sample.wav -> sample.txt), if there is one."""
    text = sample.with_suffix(".txt")
    return text.read_text().strip() if text.is_file() else ""


def create_session(args: argparse.Namespace, headers: dict[str, str]) -> str:
    data = {"context_text": args.transcript, "output_format": args.format}
    if args.max_audio_length_ms:
        data["max_audio_length_ms"] = str(args.max_audio_length_ms)
    with args.sample.open("rb") as sample:
        response = requests.post(
            f"{args.url}/v1/streaming-session", data=data, files={"audio_file": sample}, headers=headers, timeout=120
        )
    response.raise_for_status()
    return response.json()["session_id"]


async def produce(ws, text: str, words_per_chunk: int, delay: float, started: asyncio.Future) -> None:
    """Sends the text a few words at a time, like tokens from a language model, then `is_final`."""
    words = text.split(" ")
    for start in range(0, len(words), words_per_chunk):
        chunk = " ".join(words[start : start + words_per_chunk])
        await ws.send(json.dumps({"text_chunk": (" " if start else "") + chunk, "is_final": False}))
        if not started.done():
            started.set_result(time.perf_counter())
        await asyncio.sleep(delay)
    await ws.send(json.dumps({"text_chunk": "", "is_final": True}))


async def consume(ws, out: Path, started: asyncio.Future) -> float | None:
    """Writes audio as it arrives until `audio.done`; returns the seconds to the first audio."""
    first_audio = None
    with out.open("wb") as handle:
        async for message in ws:
            if isinstance(message, bytes):
                if first_audio is None:
                    first_audio = time.perf_counter() - await started
                handle.write(message)
                handle.flush()
                continue
            event = json.loads(message)
            if event["type"] == "segment.started":
                print(f"  speaking: {event['text']!r}")
            elif event["type"] == "segment.done":
                print(f"  done: {event['duration_seconds']:.2f} s of audio")
            elif event["type"] == "error":
                raise RuntimeError(event["error"]["message"])
            elif event["type"] == "audio.done":
                return first_audio
    return first_audio


async def run(args: argparse.Namespace) -> None:
    headers = {"Authorization": f"Bearer {args.api_key}"} if args.api_key else {}
    session_id = create_session(args, headers)
    print(f"session {session_id}")
    ws_url = args.url.replace("http", "ws", 1) + f"/v1/ws/stream-text/{session_id}?mode=stream"
    async with websockets.connect(ws_url, additional_headers=headers, max_size=None) as ws:
        started: asyncio.Future = asyncio.get_running_loop().create_future()
        producer = asyncio.create_task(produce(ws, args.text, args.words_per_chunk, args.delay, started))
        first_audio = await consume(ws, args.out, started)
        await producer
    print(f"time to first audio: {first_audio * 1000:.0f} ms" if first_audio is not None else "no audio")
    print(f"audio -> {args.out} ({args.out.stat().st_size} bytes)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:8000", help="the server, without /v1")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--sample", default=VOICE / "sample.wav", type=Path, help="a 1-30 s recording of the voice")
    parser.add_argument("--transcript", help="what the sample says (default: the .txt file beside it)")
    parser.add_argument(
        "--text",
        default="Hello there! This first sentence is spoken while the rest is still being written. "
        "And this is the second one, which arrives a few words at a time.",
    )
    parser.add_argument("--out", type=Path, default=Path("stream.wav"))
    parser.add_argument("--format", default="wav", choices=["wav", "mp3", "opus", "aac", "flac", "pcm"])
    parser.add_argument("--words-per-chunk", type=int, default=3)
    parser.add_argument("--delay", type=float, default=0.05, help="seconds between chunks")
    parser.add_argument("--max-audio-length-ms", type=int, help="cap per segment (useful with tiny-random)")
    args = parser.parse_args()
    if args.transcript is None:
        args.transcript = transcript_of(args.sample)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
