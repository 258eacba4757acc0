"""Engine benchmark: our frame loop and engine against transformers' generate(), side by side.

    python -m synthesis.engine.bench                       # tiny-random on this machine
    python -m synthesis.engine.bench --model full-size --frames 4 --concurrency 1,4
    python -m synthesis.engine.bench --compile --append docs/benchmarks.md

Reports ms per frame and real-time factor at batch 1 (ours, ours with streaming Mimi decoding, and
generate()), time to first audio for a saved 10 s voice, aggregate frames per second at several
concurrencies through the engine (continuous batching), and peak memory. On CUDA, generate() runs
with its documented static cache + torch.compile recipe.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .frames import FrameGenerator
from .loading import LoadedModel, pick_device, pick_dtype
from .prompt import PromptBuilder, Segment
from .tiny import build_full_size_model, build_tiny_model
from .worker import FRAME_MS, Engine, SpeechRequest

TEXT = "The benchmark sentence is long enough to keep the model talking for a while."


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _voice(model, seconds: float) -> Segment:
    """A saved voice: `seconds` of audio already encoded to codes (as the voice library stores them)."""
    frames = int(seconds * 1000 / FRAME_MS)
    codebook = model.codec_model.config.codebook_size
    codes = torch.randint(1, codebook, (model.config.num_codebooks, frames))
    return Segment(0, "A ten second voice sample, spoken clearly and steadily by the person being cloned.", codes)


@torch.no_grad()
def ours_ms_per_frame(loaded: LoadedModel, voice: Segment, frames: int, *, compile: bool = False) -> float:
    model = loaded.model
    generator = FrameGenerator(model, max_batch=1, compile=compile)
    embeddings = PromptBuilder(model, loaded.processor).embeddings([voice, Segment(0, TEXT)]).to(loaded.dtype)
    hidden = generator.prefill(0, embeddings)
    sampling = {
        "temperature": torch.full((1,), 0.9, device=loaded.device),
        "topk": torch.full((1,), 50, device=loaded.device),
    }
    for _ in range(3):
        codes = generator.frame(hidden, **sampling)
        hidden = generator.advance(codes)
    _sync(loaded.device)
    start = time.perf_counter()
    for _ in range(frames):
        codes = generator.frame(hidden, **sampling)
        hidden = generator.advance(codes)
    generator.is_end(codes).tolist()  # the per-frame host sync the engine does
    _sync(loaded.device)
    return (time.perf_counter() - start) * 1000 / frames


@torch.no_grad()
def generate_ms_per_frame(loaded: LoadedModel, voice_seconds: float, frames: int) -> float:
    """transformers' generate() on the same prompt (the voice as audio, encoded by the model itself)."""
    model, processor = loaded.model, loaded.processor
    audio = np.random.default_rng(0).standard_normal(int(voice_seconds * 24_000)).astype(np.float32) * 0.1
    conversation = [
        {"role": "0", "content": [{"type": "text", "text": "A voice sample."}, {"type": "audio", "audio": audio}]},
        {"role": "0", "content": [{"type": "text", "text": TEXT}]},
    ]
    inputs = processor.apply_chat_template(conversation, tokenize=True, return_dict=True).to(loaded.device)
    inputs["input_values"] = inputs["input_values"].to(loaded.dtype)
    kwargs = {"do_sample": True, "depth_decoder_do_sample": True, "temperature": 0.9, "top_k": 50}
    if loaded.device.type == "cuda":
        model.generation_config.cache_implementation = "static"
        model.depth_decoder.generation_config.cache_implementation = "static"
        model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
        model.depth_decoder.forward = torch.compile(model.depth_decoder.forward, mode="reduce-overhead")

    def run(new_frames: int) -> float:
        _sync(loaded.device)
        start = time.perf_counter()
        out = model.generate(**inputs, max_new_tokens=new_frames, min_new_tokens=new_frames, **kwargs)
        _sync(loaded.device)
        assert out.shape[1] == new_frames
        return time.perf_counter() - start

    run(2)  # warm-up (compilation on CUDA)
    # The difference of two lengths cancels the prompt's prefill, leaving the per-frame cost.
    short, long = run(2), run(2 + frames)
    return (long - short) * 1000 / frames


async def _time_to_first_audio(engine: Engine, voice: Segment) -> float:
    request = SpeechRequest(text=TEXT, context=[voice], max_audio_length_ms=10 * FRAME_MS)
    start = time.perf_counter()
    stream = engine.speak(request)
    await stream.__anext__()
    elapsed = time.perf_counter() - start
    await stream.aclose()
    while engine.active:
        await asyncio.sleep(0.001)
    return elapsed * 1000


async def _aggregate_fps(engine: Engine, voice: Segment, concurrency: int, frames: int) -> tuple[float, float]:
    requests = [
        SpeechRequest(text=TEXT, context=[voice], max_audio_length_ms=frames * FRAME_MS) for _ in range(concurrency)
    ]
    start = time.perf_counter()
    streams = [engine.speak(request) for request in requests]
    await asyncio.gather(*(stream.read_all() for stream in streams))
    elapsed = time.perf_counter() - start
    total = sum(stream.frames for stream in streams)
    return total / elapsed, frames * FRAME_MS / 1000 / elapsed  # aggregate fps, each stream's x real time


def _peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB (GPU)"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB (process RSS)"


def _load(name: str, device: str, dtype: str) -> LoadedModel:
    torch_device = pick_device(device)
    torch_dtype = pick_dtype(dtype, torch_device)
    if name == "full-size":
        model, processor = build_full_size_model(dtype=torch_dtype, device=str(torch_device))
    else:
        model, processor = build_tiny_model()
        model = model.to(device=torch_device, dtype=torch_dtype)
    return LoadedModel(name=name, model=model, processor=processor, device=torch_device, dtype=torch_dtype)


def run(args: argparse.Namespace) -> str:
    loaded = _load(args.model, args.device, args.dtype)
    voice = _voice(loaded.model, 10.0)
    rows: list[tuple[str, str]] = []
    ours_ms_per_frame(loaded, voice, 3)  # warm-up: the first frames of a process pay one-time costs
    reference = generate_ms_per_frame(loaded, 10.0, args.frames)
    ours = ours_ms_per_frame(loaded, voice, args.frames)
    rows += [
        ("transformers generate(): ms per frame, batch 1", f"{reference:.1f} (RTF {reference / FRAME_MS:.3f})"),
        ("ours: ms per frame, batch 1", f"{ours:.1f} (RTF {ours / FRAME_MS:.3f}), {reference / ours:.1f}x faster"),
    ]
    if args.compile:
        start = time.perf_counter()
        ours_ms_per_frame(loaded, voice, 1, compile=True)
        compiled = ours_ms_per_frame(loaded, voice, args.frames, compile=True)
        rows.append(
            (
                "ours with CSM_COMPILE (torch.compile of the depth frame): ms per frame, batch 1",
                f"{compiled:.1f} (RTF {compiled / FRAME_MS:.3f}), {reference / compiled:.1f}x faster "
                f"(compiling took {time.perf_counter() - start:.0f} s)",
            )
        )
    concurrencies = [int(value) for value in args.concurrency.split(",")]
    engine = Engine(loaded, max_batch=max(concurrencies), max_queue=max(concurrencies))
    try:
        asyncio.run(_aggregate_fps(engine, voice, 1, 3))  # warm-up
        ttfa = [asyncio.run(_time_to_first_audio(engine, voice)) for _ in range(3)]
        rows.append(("time to first audio, saved 10 s voice (median of 3)", f"{statistics.median(ttfa):.0f} ms"))
        for concurrency in concurrencies:
            fps, speed = asyncio.run(_aggregate_fps(engine, voice, concurrency, args.frames))
            rows.append(
                (f"engine, {concurrency} concurrent: frames/s (each stream x real time)", f"{fps:.1f} ({speed:.2f}x)")
            )
    finally:
        engine.close()
    rows.append(("peak memory", _peak_memory(loaded.device)))
    return _report(args, loaded, rows)


def _machine(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name()
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads"


def _report(args: argparse.Namespace, loaded: LoadedModel, rows: list[tuple[str, str]]) -> str:
    lines = [
        f"### {args.model} on {loaded.device.type} ({str(loaded.dtype).removeprefix('torch.')}), "
        f"{datetime.date.today().isoformat()}",
        "",
        f"- command: `python -m synthesis.engine.bench {' '.join(sys.argv[1:])}`".rstrip(),
        f"- machine: {_machine(loaded.device)}; torch {torch.__version__}; python {platform.python_version()}",
        f"- {args.frames} timed frames per measurement",
        "",
        "| measurement | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny-random", "full-size"], default="tiny-random")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--concurrency", default="1,4,16,32")
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile'd depth frame")
    parser.add_argument("--append", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    report = run(args)
    print(report)
    if args.append:
        with args.append.open("a") as handle:
            handle.write("\n" + report)


if __name__ == "__main__":
    main()
