"""The engine: one worker thread owns the model and steps every active request together.

Callers submit a `SpeechRequest` and get a `SpeechStream`, an async iterator of float32 PCM chunks
(24 kHz mono). The worker admits waiting requests between frames (continuous batching), runs one
batched frame for all of them, decodes the new frames of every request due to emit audio in one
batched streaming Mimi call (each request in its own decoder slot) and hands the audio to the
caller's event loop. A request that finishes (or was cancelled) frees its row and slot, and its stream
ends, in the frame where it ends, before that frame's backbone step, which it no longer takes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .frames import FrameGenerator
from .loading import LoadedModel
from .mimi_stream import MimiStreamDecoder
from .observer import EngineObserver
from .prefill import Prefiller, Prompt
from .prefix_cache import PrefixCache
from .prompt import DEFAULT_SPEAKER, PromptBuilder, Segment
from .sampling import DEFAULT_TEMPERATURE, DEFAULT_TOPK
from .text import split_sentences

logger = logging.getLogger(__name__)

FRAME_MS = 80


class QueueFull(Exception):
    """Too many requests are waiting; try again shortly."""


class EngineFailure(Exception):
    """Generation failed inside the engine."""


class ContextOverflow(EngineFailure):
    """The voice context and text do not fit the model's context window."""


@dataclass
class SpeechRequest:
    """What to say, in which voice. `context` holds the voice's segments (sample + transcript);
    `previous` is the segment spoken just before (a streaming session's last one), kept in the prompt
    for continuity when it fits."""

    text: str
    speaker: int = DEFAULT_SPEAKER
    context: list[Segment] = field(default_factory=list)
    previous: Segment | None = None
    kind: str = "speech"  # what it is for (speech, clone, session): a label the engine hands its observer
    temperature: float = DEFAULT_TEMPERATURE
    topk: int = DEFAULT_TOPK
    max_audio_length_ms: int | None = None
    seed: int | None = None  # 0..SEED_MAX: the same seed, prompt and settings speak the same codes; None: random


LARGE_MODEL_PARAMETERS = 100_000_000
"""From this size on (codec included), the engine's ops on a CPU use every core (see `worker_threads`)."""


def worker_threads(parameters: int, device: torch.device | str = "cpu") -> int:
    """CPU threads for the engine's ops, for a model of `parameters` parameters on `device`. A small model's
    frame is a few ms of small ops, which the server's event loop stalls when every core is in them (its
    wake-up for each chunk holds one thread back): frames of tiny-random took 8 ms instead of 3 on 2 cores,
    so the loop keeps a core of its own; so it does on a GPU, where the CPU only launches small ops. A large
    model's ops on a CPU are long matrix products that a brief wake-up barely delays and that ran almost
    twice as fast on two cores as on one (csm-1b's configuration: docs/benchmarks.md, "Every core for a
    large model"), so they take every core."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if parameters >= LARGE_MODEL_PARAMETERS and torch.device(device).type == "cpu":
        return cores
    return max(1, cores - 1)


def model_parameters(model: torch.nn.Module) -> int:
    """Every parameter of the model: backbone, depth decoder and codec."""
    return sum(parameter.numel() for parameter in model.parameters())


def overflow_message(context: list[Segment], max_positions: int) -> str:
    """Why a prompt does not fit, naming only what it actually held (a voice sample, its transcript)."""
    if not context:
        held, advice = "The text needs", "send a shorter input"
    elif any(segment.text for segment in context):
        held, advice = "The voice sample, its transcript and the text need", "use a shorter sample or transcript"
    else:
        held, advice = "The voice sample and the text need", "use a shorter sample"
    return f"{held} more than the model's {max_positions} positions once tokenised; {advice}."


def default_max_ms(text: str) -> int:
    """A generous cap for a piece: about four times normal speaking time (~15 characters a second)."""
    return max(3000, int(len(text) * 1000 / 15 * 4))


class SpeechStream:
    """Async iterator of PCM chunks for one request. Closing it early cancels the generation.

    The worker thread talks to it through `deliver`, `finish` and `fail`; the caller reads `frames` (the
    frames of codes delivered as audio so far) and, once it has ended, `last_segment`.
    """

    def __init__(self, request: SpeechRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self.cancelled = threading.Event()
        self.frames = 0
        self.last_segment: Segment | None = None  # the last piece with its codes, once finished
        self.queued_at = time.monotonic()
        self._loop = loop
        self._queue: asyncio.Queue = asyncio.Queue()

    # ---- the worker's side ----------------------------------------------------------------------
    def deliver(self, pcm: np.ndarray, *, frames: int) -> None:
        """Hands the caller a chunk of audio made from `frames` frames of codes."""
        self.frames += frames
        self._put(pcm)

    def finish(self, last_segment: Segment | None = None) -> None:
        """Ends the stream; `last_segment` is its last piece with its codes (None when cancelled)."""
        self.last_segment = last_segment
        self._put(None)

    def fail(self, error: EngineFailure) -> None:
        """Ends the stream with `error`, raised to the caller."""
        self._put(error)

    def _put(self, item: object) -> None:
        with contextlib.suppress(RuntimeError):  # the caller's event loop is gone: nobody is listening
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)

    def cancel(self) -> None:
        self.cancelled.set()

    def __aiter__(self) -> SpeechStream:
        return self

    async def __anext__(self) -> np.ndarray:
        try:
            item = await self._queue.get()
        except BaseException:
            self.cancel()
            raise
        if item is None:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        return item

    async def aclose(self) -> None:
        self.cancel()

    async def read_all(self) -> np.ndarray:
        """The whole clip (cancels generation if the awaiting task is cancelled)."""
        try:
            chunks = [chunk async for chunk in self]
        finally:
            self.cancel()
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


@dataclass
class _Task:
    """Work for the worker thread other than speech (encoding a voice sample), answered through `future`."""

    function: Callable
    argument: object
    future: concurrent.futures.Future

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():  # its caller is gone
            return
        try:
            self.future.set_result(self.function(self.argument))
        except Exception as error:  # noqa: BLE001
            self.future.set_exception(error)


@dataclass(eq=False)  # an active request is itself: found in `active` by identity
class _Active:
    stream: SpeechStream
    pieces: list[str]
    piece: int = 0
    piece_codes: list[torch.Tensor] = field(default_factory=list)
    pending: list[torch.Tensor] = field(default_factory=list)
    max_frames: int = 0
    started: float = field(default_factory=time.monotonic)  # when its generation started
    slot: int = 0  # its rows in the streaming Mimi decoder (generator rows move; slots stay)
    previous: Segment | None = None
    prompt: Prompt | None = None  # the current piece's, between planning and prefill
    seed: int = field(default_factory=lambda: random.getrandbits(32))  # drawn at admission unless the request has one
    frame: int = 0  # frames sampled so far, all pieces together: the sampling noise's counter

    def __post_init__(self) -> None:
        if self.stream.request.seed is not None:
            self.seed = self.stream.request.seed


class Engine:
    def __init__(
        self,
        loaded: LoadedModel,
        *,
        max_batch: int = 8,
        max_queue: int = 16,
        chunk_frames: int = 1,
        observer: EngineObserver | None = None,  # told about the engine's work (speech.engine.observer)
        compile: bool = False,
        cuda_graphs: bool = True,
        max_request_ms: int | None = None,
        prefix_cache_mb: int = 512,
        max_prefill_rows: int | None = None,
        threads: int | None = None,
    ) -> None:
        """`cuda_graphs`: on CUDA, replay each frame's depth decoder and backbone step as CUDA graphs.
        `max_request_ms`: the most audio one request may produce, all its pieces together (None: no cap);
        a request that reaches it ends there, with the audio made so far.
        `prefix_cache_mb`: memory for voices' context KV on the model's device (0: no prefix cache).
        `max_prefill_rows`: the most requests prefilled in one call (None: max_batch; 1: one at a time).
        `threads`: CPU threads for its ops (None: `worker_threads`)."""
        self.loaded = loaded
        self.model = loaded.model
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.chunk_frames = chunk_frames
        self.max_request_frames = max_request_ms // FRAME_MS if max_request_ms else None
        self.sample_rate = self.model.codec_model.config.sampling_rate
        self.prompts = PromptBuilder(self.model, loaded.processor)
        # Before anything is compiled: torch.compile'd code is only valid for the thread count it was built with.
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        self.threads = threads or worker_threads(model_parameters(self.model), loaded.device)
        torch.set_num_threads(self.threads)
        self.generator = FrameGenerator(
            self.model, max_batch=max_batch, compile=compile, cuda_graphs=None if cuda_graphs else False
        )
        self.prefills = Prefiller(
            self.generator,
            self.prompts,
            PrefixCache(prefix_cache_mb * 2**20),
            model=f"{loaded.name} {loaded.dtype} {loaded.device}",
            max_rows=max_prefill_rows or max_batch,
        )
        self.hidden = torch.zeros(max_batch, self.model.config.hidden_size, dtype=loaded.dtype, device=loaded.device)
        self.mimi = MimiStreamDecoder(self.model.codec_model, batch_size=max_batch)
        self.free_slots = list(range(max_batch))
        self.active: list[_Active] = []
        self._waiting: queue.Queue = queue.Queue()
        self._waiting_count = 0
        self._lock = threading.Lock()
        self.observer = observer or EngineObserver()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="csm-engine", daemon=True)
        self._thread.start()

    # ---- called from any thread -------------------------------------------------------------
    @property
    def busy(self) -> int:
        """Requests generating or waiting."""
        return len(self.active) + self._waiting_count

    def speak(self, request: SpeechRequest) -> SpeechStream:
        """Queues a request (from an event loop); raises QueueFull when the queue is full."""
        stream = SpeechStream(request, asyncio.get_running_loop())
        self._enqueue(stream)
        return stream

    async def encode_voice(self, pcm: np.ndarray) -> torch.Tensor:
        """24 kHz mono float32 -> Mimi codes [codebooks, frames] (on the CPU), computed by the worker."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._enqueue(_Task(self._encode, pcm, future))
        return await asyncio.wrap_future(future)

    def close(self) -> None:
        self._stop.set()
        self._waiting.put(None)
        self._thread.join(timeout=5)

    def _enqueue(self, item: object) -> None:
        with self._lock:
            if self._waiting_count >= self.max_queue:
                raise QueueFull(f"{self._waiting_count} requests are already waiting")
            self._waiting_count += 1
        self._waiting.put(item)

    # ---- the worker thread ------------------------------------------------------------------
    def _run(self) -> None:
        # Sets up this thread's CPU thread pool: without the call every op here costs about twice as much.
        torch.set_num_threads(self.threads)
        with torch.inference_mode():  # less per-op overhead than no_grad; nothing here needs autograd
            self._loop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._admit(block=not self.active)
                if self.active:
                    rows, started = len(self.active), time.perf_counter()
                    self._step()
                    self.observer.step(rows=rows, seconds=time.perf_counter() - started)
            except Exception as error:  # noqa: BLE001 - the worker must survive any request's failure
                logger.exception("Engine step failed")
                for active in self.active:
                    self._observe_end(active)
                    active.stream.fail(EngineFailure(f"Generation failed: {error}"))
                self.active.clear()
                self.free_slots = list(range(self.max_batch))

    def _admit(self, *, block: bool) -> None:
        """Takes waiting requests while rows are free; those taken in one step start (prefill) together."""
        starting: list[SpeechStream] = []
        while len(self.active) + len(starting) < self.max_batch:
            try:
                item = self._waiting.get(timeout=0.5) if block else self._waiting.get_nowait()
            except queue.Empty:
                break
            if item is None:
                break
            with self._lock:
                self._waiting_count -= 1
            block = False
            if isinstance(item, _Task):
                item.run()
            elif item.cancelled.is_set():
                item.finish()
            else:
                starting.append(item)
        if starting:
            self._start(starting)

    def _encode(self, pcm: np.ndarray) -> torch.Tensor:
        values = torch.as_tensor(pcm, dtype=self.loaded.dtype, device=self.loaded.device)[None, None]
        return self.model.codec_model.encode(values).audio_codes[0].cpu()

    def _start(self, streams: list[SpeechStream]) -> None:
        first = len(self.active)
        for stream in streams:
            slot = self.free_slots.pop()
            self.active.append(_Active(stream=stream, pieces=[], slot=slot, previous=stream.request.previous))
        # from here on, any failure reaches these streams too
        for active in self.active[first:]:
            request = active.stream.request
            active.pieces = split_sentences(request.text) or [request.text]
        self.mimi.reset_rows([active.slot for active in self.active[first:]])
        self._prefill(list(range(first, len(self.active))))

    def _prefill(self, rows: list[int]) -> None:
        """Starts the current piece of these rows (the rows just admitted, or one row's next piece) in one
        batched prefill; a request whose prompt cannot run fails alone."""
        planned: list[int] = []
        for row in reversed(rows):
            active = self.active[row]
            try:
                active.prompt = self._plan(active)
            except EngineFailure as error:
                self._remove(row)
                active.stream.fail(error)
                planned = [row if other == len(self.active) else other for other in planned]  # the last moved
                continue
            planned.append(row)
        if not planned:
            return
        planned.sort()  # ascending rows: the batched prefill then reads their caches as one slice
        prompts = [self.active[row].prompt for row in planned]
        for row in planned:
            self.active[row].prompt = None
        self.hidden[planned] = self.prefills.run(planned, prompts)

    def _plan(self, active: _Active) -> Prompt:
        """The prompt of a row's current piece: the voice context, the previous piece, the text."""
        request = active.stream.request
        text = active.pieces[active.piece]
        target = Segment(request.speaker, text)
        cap_ms = request.max_audio_length_ms or default_max_ms(text)
        prompt = self.prefills.prompt(request.context, [*([active.previous] if active.previous else []), target])
        room = self.generator.max_positions - prompt.length
        wanted = max(1, cap_ms // FRAME_MS)
        if room < wanted and active.previous is not None:
            prompt = self.prefills.prompt(request.context, [target])  # drop the previous piece, not the audio
            room = self.generator.max_positions - prompt.length
        if room < 1:
            raise ContextOverflow(overflow_message(request.context, self.generator.max_positions))
        active.max_frames = min(wanted, room, self._frames_left(active))
        active.piece_codes = []
        return prompt

    def _step(self) -> None:
        rows = len(self.active)
        requests = [active.stream.request for active in self.active]
        device = self.loaded.device
        sampling = {
            "temperature": torch.tensor([r.temperature for r in requests], device=device),
            "topk": torch.tensor([r.topk for r in requests], device=device),
            "seed": torch.tensor([active.seed for active in self.active], device=device),
            "frame_index": torch.tensor([active.frame for active in self.active], device=device),
        }
        codes = self.generator.frame(self.hidden[:rows], **sampling)
        for active in self.active:
            active.frame += 1
        host_codes = codes.cpu()  # the frame's one wait for the device
        ends = self.generator.is_end(host_codes).tolist()
        done = [self._take_frame(self.active[row], host_codes[row], ends[row]) for row in range(rows)]
        self._emit(
            [
                active
                for active, piece_done in zip(self.active, done, strict=True)
                if active.pending
                and not active.stream.cancelled.is_set()
                and (piece_done or len(active.pending) >= self.chunk_frames)
            ]
        )
        ended, going_on = [], []
        for row in range(rows):
            if done[row]:
                (going_on if self._end_piece(self.active[row]) else ended).append(self.active[row])
        # Ended requests leave, and the backbone takes the frame in, only after the audio has left and those
        # requests have ended: on a CPU, where every op runs in turn, a backbone step (a quarter of a frame at full
        # size) stands neither between the codes and their audio nor between a request's last audio and its end.
        kept = list(range(rows))  # the frame's row of each row left, as `_remove` packs them
        for active in reversed(ended):
            row = self.active.index(active)
            kept[row] = kept[-1]
            kept.pop()
            self._remove(row)
            active.stream.finish(active.previous)  # once its row is free: its reader finds the engine without it
        if self.active:
            if len(kept) < rows:
                codes = codes[torch.tensor(kept, device=codes.device)]
            self.hidden[: len(self.active)] = self.generator.advance(codes)
        for active in going_on:
            self._prefill([self.active.index(active)])  # over the advanced row: its next piece starts afresh

    def _take_frame(self, active: _Active, codes: torch.Tensor, end: bool) -> bool:
        """Records a row's new frame; returns whether its piece is done (or the request cancelled). Frames
        wait in `pending` until a chunk is full or the piece ends, then `_emit` decodes them."""
        if active.stream.cancelled.is_set():
            return True
        if not end:
            active.piece_codes.append(codes)
            active.pending.append(codes)
        return end or len(active.piece_codes) >= active.max_frames

    def _emit(self, due: list[_Active]) -> None:
        """Decodes the pending frames of these requests in one batched Mimi call per chunk length; a seeded
        request's alone (a batch of one), since float rounding in a batched decode depends on the rows beside
        it, and the same seed must speak the same PCM whoever else is served."""
        groups = [[active] for active in due if active.stream.request.seed is not None]
        shared = [active for active in due if active.stream.request.seed is None]
        for frames in sorted({len(active.pending) for active in shared}):
            groups.append([active for active in shared if len(active.pending) == frames])
        for group in groups:
            codes = torch.stack([torch.stack(active.pending, dim=1) for active in group]).to(self.loaded.device)
            pcm = self.mimi.decode(codes, rows=[active.slot for active in group]).float().cpu().numpy()
            for active, audio in zip(group, pcm, strict=True):
                if not active.stream.frames:
                    self.observer.first_audio(active.stream.request, seconds=time.monotonic() - active.stream.queued_at)
                self.observer.audio(
                    active.stream.request, frames=len(active.pending), seconds=audio.size / self.sample_rate
                )
                active.stream.deliver(audio, frames=len(active.pending))
                active.pending = []

    def _end_piece(self, active: _Active) -> bool:
        """A row's piece is done: keeps its codes as the previous segment (what the request's stream ends with
        when it ends here) and returns whether a next piece is to be spoken."""
        stream = active.stream
        if stream.cancelled.is_set():
            active.previous = None
            return False
        text = active.pieces[active.piece]
        piece_codes = torch.stack(active.piece_codes, dim=1) if active.piece_codes else None
        active.previous = Segment(stream.request.speaker, text, piece_codes) if piece_codes is not None else None
        active.piece += 1
        if active.piece < len(active.pieces) and self._frames_left(active) > 0:
            return True
        if active.piece < len(active.pieces):
            unspoken = len(active.pieces) - active.piece
            logger.info("A request reached the audio cap; %d of its pieces were not spoken.", unspoken)
        if self._frames_left(active) <= 0:
            self.observer.capped(stream.request)
        return False

    def _frames_left(self, active: _Active) -> int:
        """Frames the request may still produce under `max_request_ms`."""
        if self.max_request_frames is None:
            return 1 << 30
        return self.max_request_frames - (active.stream.frames + len(active.pending))

    def _remove(self, row: int) -> None:
        """Frees a row and its decoder slot, moving the last active row into it so rows 0..n-1 stay packed."""
        self._observe_end(self.active[row])
        self.free_slots.append(self.active[row].slot)
        last = len(self.active) - 1
        if row != last:
            self.generator.move_row(last, row)
            self.hidden[row] = self.hidden[last]
            self.active[row] = self.active[last]
        self.active.pop()

    def _observe_end(self, active: _Active) -> None:
        seconds = time.monotonic() - active.started
        self.observer.finished(active.stream.request, seconds=seconds, cancelled=active.stream.cancelled.is_set())
