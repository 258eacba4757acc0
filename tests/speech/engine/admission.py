"""Starting several requests in one engine step, whatever the threads' timing."""

import asyncio
import threading

import numpy as np
import torch

from speech.engine.worker import Engine, SpeechRequest


def speak_together(engine: Engine, requests: list[SpeechRequest]) -> list[tuple[np.ndarray, torch.Tensor]]:
    """Holds the worker (a voice encoding that waits) while the requests queue, so that it admits them all in
    one step and prefills them together; returns each one's audio and the codes of its last piece."""
    release = threading.Event()
    encode = engine._encode
    engine._encode = lambda pcm: release.wait(30)

    async def run():
        held = asyncio.ensure_future(engine.encode_voice(np.zeros(1920, dtype=np.float32)))
        await asyncio.sleep(0.1)
        streams = [engine.speak(request) for request in requests]
        release.set()
        await held
        audio = await asyncio.gather(*(stream.read_all() for stream in streams))
        return [(pcm, stream.last_segment.codes) for pcm, stream in zip(audio, streams, strict=True)]

    try:
        return asyncio.run(run())
    finally:
        engine._encode = encode
