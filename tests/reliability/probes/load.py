"""Load probe: N concurrent clients for a while, mixing speech, streamed speech and WebSocket sessions.

Not a test: it prints what happened, to be recorded in docs/reliability.md with the command and machine.
Each client loops over one of three jobs, chosen at random:

- speech: POST /v1/audio/speech (wav), the whole file;
- stream: POST /v1/audio/speech with "stream": true, read to the end;
- websocket: a streaming session (made once per client from a generated sample: the "session" rows),
  `?mode=stream`, two text messages then `is_final`, read until `audio.done`.

Expected outcomes are 200s, documented 503s and 429s that carry Retry-After (the client then waits that
long, as a polite client does) and the WebSocket's documented refusals (`engine_busy`,
`too_many_streams`); anything else, and every WebSocket the server closes, is counted as a failure and
shown.

    .venv/bin/python -m tests.reliability.probes.load --url http://127.0.0.1:8000 --clients 50 --seconds 120 \
        [--key csm-...]
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import random
import statistics
import threading
import time
import wave

import numpy as np
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

TEXT = "Hello there. This is a short sentence for the load probe."
# Documented WebSocket refusals (an error message, then a close): the engine busy, a key's streams at its cap.
REFUSALS = ("engine_busy", "too_many_streams")


def speech_like_wav(seconds: float = 3.0, rate: int = 16_000) -> bytes:
    """A voiced, syllable-rate modulated signal: enough for the server to accept it as a sample."""
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 20 * np.sin(2 * np.pi * 0.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
    pcm = (0.3 * voiced * envelope / 2 + 0.01 * np.random.default_rng(0).standard_normal(t.size)).clip(-1, 1)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((pcm * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outcomes: collections.Counter = collections.Counter()
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)
        self.failures: list[str] = []

    def add(self, job: str, outcome: str, seconds: float, *, failure: str | None = None) -> None:
        with self.lock:
            self.outcomes[(job, outcome)] += 1
            if outcome == "200":
                self.seconds[job].append(seconds)
            if failure and len(self.failures) < 20:
                self.failures.append(f"{job}: {failure}")


def _http_outcome(response: requests.Response) -> tuple[str, str | None]:
    """The outcome of a response; a documented refusal waits its Retry-After, as a polite client does."""
    status = response.status_code
    if status == 200:
        return "200", None
    if status in (429, 503) and response.headers.get("Retry-After"):
        time.sleep(min(float(response.headers["Retry-After"]), 10))
        return f"{status} with Retry-After", None
    return str(status), response.text[:200]


def speech(base: str, headers: dict, *, stream: bool) -> tuple[str, str | None]:
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "wav", "stream": stream}
    with requests.post(f"{base}/v1/audio/speech", json=body, headers=headers, stream=stream, timeout=120) as response:
        if response.status_code == 200:
            for _ in response.iter_content(4096):
                pass
        return _http_outcome(response)


def make_session(base: str, headers: dict, sample: bytes) -> tuple[str | None, str, str | None]:
    """A streaming session made from the sample: (its id or None, the outcome, a failure to show)."""
    data = {"context_text": "A sample for the probe.", "max_audio_length_ms": "2000"}
    response = requests.post(
        f"{base}/v1/streaming-session", data=data, files={"audio_file": ("s.wav", sample)}, headers=headers, timeout=60
    )
    outcome, failure = _http_outcome(response)
    return (response.json()["session_id"] if response.status_code == 200 else None), outcome, failure


def websocket(base: str, headers: dict, session_id: str) -> tuple[str, str | None]:
    url = base.replace("http", "ws", 1) + f"/v1/ws/stream-text/{session_id}?mode=stream"
    try:
        with connect(url, additional_headers=headers, open_timeout=30, close_timeout=5) as ws:
            for chunk, final in (("Hello there. How ", False), ("are you today? ", False), ("Fine.", True)):
                ws.send(json.dumps({"text_chunk": chunk, "is_final": final}))
            while True:
                message = ws.recv(timeout=120)
                if isinstance(message, str):
                    event = json.loads(message)
                    if event.get("type") == "error":
                        code = (event.get("error") or {}).get("code")
                        if code in REFUSALS:  # documented: the client waits a moment and tries again
                            time.sleep(1)
                            return f"refused: {code}", None
                        return "error event", json.dumps(event)[:200]
                    if event.get("type") == "audio.done":
                        return "200", None
    except ConnectionClosed as closed:
        return f"closed {closed.rcvd.code if closed.rcvd else 'without a frame'}", str(closed)[:200]
    except TimeoutError as error:
        return "timeout", str(error)


def client(base: str, headers: dict, sample: bytes, deadline: float, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    session_id = None
    while time.monotonic() < deadline:
        job = rng.choice(("speech", "stream", "websocket"))
        started = time.monotonic()
        try:
            if job == "websocket" and session_id is None:
                job = "session"
                session_id, outcome, failure = make_session(base, headers, sample)
            elif job == "websocket":
                outcome, failure = websocket(base, headers, session_id)
            else:
                outcome, failure = speech(base, headers, stream=job == "stream")
        except requests.RequestException as error:
            outcome, failure = "connection error", str(error)[:200]
        tally.add(job, outcome, time.monotonic() - started, failure=failure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--key", help="an API key, when the server requires one")
    args = parser.parse_args()
    headers = {"Authorization": f"Bearer {args.key}"} if args.key else {}
    sample = speech_like_wav()
    tally = Tally()
    deadline = time.monotonic() + args.seconds
    threads = [
        threading.Thread(target=client, args=(args.url, headers, sample, deadline, tally, seed))
        for seed in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(f"{args.clients} clients for {args.seconds:.0f} s against {args.url}")
    print("| job | outcome | count | median s | p95 s |")
    print("|---|---|---|---|---|")
    for (job, outcome), count in sorted(tally.outcomes.items()):
        times = sorted(tally.seconds[job]) if outcome == "200" else []
        median = f"{statistics.median(times):.2f}" if times else ""
        p95 = f"{times[int(0.95 * (len(times) - 1))]:.2f}" if times else ""
        print(f"| {job} | {outcome} | {count} | {median} | {p95} |")
    expected = ("200", "429 with Retry-After", "503 with Retry-After", *(f"refused: {code}" for code in REFUSALS))
    unexpected = sum(count for (_, outcome), count in tally.outcomes.items() if outcome not in expected)
    print(f"unexpected outcomes: {unexpected}")
    for failure in tally.failures:
        print(f"  {failure}")


if __name__ == "__main__":
    main()
