"""Engine benchmark: our frame loop and engine against transformers' generate(), side by side.

    python -m speech.engine.bench                       # tiny-random on this machine
    python -m speech.engine.bench --model full-size --frames 4 --concurrency 1,4
    python -m speech.engine.bench --compile --append docs/benchmarks.md
    python -m speech.engine.bench --model full-size --check     # on a GPU: CUDA graphs checked, then timed
    python -m speech.engine.bench --model full-size --rows ttfa --json   # a CPU: first audio only, as JSON
    python -m speech.engine.bench --tokenizer tokenizer.json   # csm-1b's text tokenizer: its prompt lengths

Reports, for ours and generate() side by side: ms per frame and real-time factor at batch 1 (on CUDA
also ours without CUDA graphs; with --compile also CSM_COMPILE), time to first audio for a 10 s voice,
aggregate frames per second at several concurrencies (ours: the engine's continuous batching, streaming
Mimi decoding included; generate(): one batched call) and peak memory. On CUDA, generate() runs with
its documented static cache + torch.compile recipe. A second table sets the engine as it serves (prefix
cache, batched prefill) beside the same engine without either: time to first audio for a saved voice,
and until every one of N requests arriving together has its first audio.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .frames import FrameGenerator
from .loading import LoadedModel, pick_device, pick_dtype
from .prompt import PromptBuilder, Segment
from .tiny import build_full_size_model, build_tiny_model, load_llama3_tokenizer
from .worker import FRAME_MS, Engine, SpeechRequest, model_parameters, worker_threads

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


def ours_ms_per_frame(
    loaded: LoadedModel, voice: Segment, frames: int, *, compile: bool = False, cuda_graphs: bool | None = None
) -> float:
    model = loaded.model
    generator = FrameGenerator(model, max_batch=1, compile=compile, cuda_graphs=cuda_graphs)
    embeddings = PromptBuilder(model, loaded.processor).embeddings([voice, Segment(0, TEXT)]).to(loaded.dtype)
    hidden = generator.prefill(0, embeddings)
    sampling = {
        "temperature": torch.full((1,), 0.9, device=loaded.device),
        "topk": torch.full((1,), 50, device=loaded.device),
        "seed": torch.zeros(1, dtype=torch.long, device=loaded.device),
        "frame_index": torch.zeros(1, dtype=torch.long, device=loaded.device),
    }
    for _ in range(3):
        codes = generator.frame(hidden, **sampling)
        hidden = generator.advance(codes)
    _sync(loaded.device)
    start = time.perf_counter()
    for _ in range(frames):
        codes = generator.frame(hidden, **sampling)
        hidden = generator.advance(codes)
        codes.cpu()  # the engine's one wait for the device per frame
    _sync(loaded.device)
    return (time.perf_counter() - start) * 1000 / frames


def graphs_agreement(loaded: LoadedModel, voice: Segment, frames: int) -> float:
    """The share of greedy codes that the bucketed steps give as a reference does, for three rows of
    different prompts (run in the batch bucket of four). On CUDA: the captured graphs against the same
    bucketed steps run eagerly (same shapes, so a correct capture agrees bitwise even in bf16); on a CPU:
    the bucketed steps against the direct ones."""
    model = loaded.model
    builder = PromptBuilder(model, loaded.processor)
    prompts = [[voice, Segment(0, TEXT)], [Segment(1, "Another speaker.")], [voice, Segment(0, TEXT[:20])]]
    greedy = FrameGenerator.greedy_sampling(3, device=loaded.device)
    results = []
    reference = {"cuda_graphs": True, "capture": False} if loaded.device.type == "cuda" else {"cuda_graphs": False}
    for options in (reference, {"cuda_graphs": True}):
        generator = FrameGenerator(model, max_batch=4, **options)
        hidden = torch.cat(
            [generator.prefill(row, builder.embeddings(p).to(loaded.dtype)) for row, p in enumerate(prompts)]
        )
        codes = []
        for _ in range(frames):
            codes.append(generator.frame(hidden, **greedy))
            hidden = generator.advance(codes[-1])
        results.append(torch.stack(codes))
    return (results[0] == results[1]).float().mean().item()


class Reference:
    """transformers' generate() on the same prompt (the voice as audio, encoded by the model itself), with
    its documented static cache + torch.compile recipe on CUDA."""

    def __init__(self, loaded: LoadedModel, voice_seconds: float) -> None:
        self.loaded = loaded
        model, processor = loaded.model, loaded.processor
        audio = np.random.default_rng(0).standard_normal(int(voice_seconds * 24_000)).astype(np.float32) * 0.1
        conversation = [
            {"role": "0", "content": [{"type": "text", "text": "A voice sample."}, {"type": "audio", "audio": audio}]},
            {"role": "0", "content": [{"type": "text", "text": TEXT}]},
        ]
        inputs = processor.apply_chat_template(conversation, tokenize=True, return_dict=True).to(loaded.device)
        inputs["input_values"] = inputs["input_values"].to(loaded.dtype)
        self.inputs = inputs
        self.kwargs = {"do_sample": True, "depth_decoder_do_sample": True, "temperature": 0.9, "top_k": 50}
        if loaded.device.type == "cuda":
            model.generation_config.cache_implementation = "static"
            model.depth_decoder.generation_config.cache_implementation = "static"
            model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
            model.depth_decoder.forward = torch.compile(model.depth_decoder.forward, mode="reduce-overhead")

    def _inputs(self, batch: int) -> dict:
        return {key: value.repeat(batch, *([1] * (value.ndim - 1))) for key, value in self.inputs.items()}

    def generate(self, new_frames: int, batch: int = 1) -> tuple[float, torch.Tensor]:
        """Seconds for one generate() call of exactly `new_frames` frames, and its codes."""
        _sync(self.loaded.device)
        start = time.perf_counter()
        out = self.loaded.model.generate(
            **self._inputs(batch), max_new_tokens=new_frames, min_new_tokens=new_frames, **self.kwargs
        )
        _sync(self.loaded.device)
        assert out.shape[:2] == (batch, new_frames)
        return time.perf_counter() - start, out

    def ms_per_frame(self, frames: int) -> float:
        self.generate(2)  # warm-up (compilation on CUDA)
        # The difference of two lengths cancels the prompt's prefill, leaving the per-frame cost; the best of
        # three of each keeps the noise of two long calls out of a small difference.
        short = min(self.generate(2)[0] for _ in range(3))
        long = min(self.generate(2 + frames)[0] for _ in range(3))
        return (long - short) * 1000 / frames

    def time_to_first_audio(self) -> float:
        """generate() cannot stream: its best case is a one-frame call, then Mimi decoding that frame."""
        start = time.perf_counter()
        _, codes = self.generate(1)
        codec = self.loaded.model.codec_model
        # random weights may sample ids Mimi cannot decode (generate() does not mask them); timing is the same
        codec.decode(codes.transpose(1, 2).clamp(max=codec.config.codebook_size - 1))
        _sync(self.loaded.device)
        return (time.perf_counter() - start) * 1000

    def aggregate_fps(self, batch: int, frames: int) -> tuple[float, float]:
        """N concurrent requests as transformers serves them: one batched generate() call (prefill included,
        as in the engine's figure)."""
        self.generate(2, batch)  # warm-up for this batch size (compilation on CUDA)
        elapsed, _ = self.generate(frames, batch)
        return batch * frames / elapsed, frames * FRAME_MS / 1000 / elapsed


def _engine(loaded: LoadedModel, rows: int, **options: int) -> Engine:
    """An engine for `rows` requests at once, its ops on the bench's threads."""
    return Engine(loaded, max_batch=rows, max_queue=rows, threads=torch.get_num_threads(), **options)


async def _first_audio(engine: Engine, voice: Segment, count: int) -> float:
    """ms from submitting `count` requests at once (a saved voice, so its codes are ready) until every one of
    them has its first chunk of audio; then they are cancelled."""
    requests = [SpeechRequest(text=TEXT, context=[voice], max_audio_length_ms=10 * FRAME_MS) for _ in range(count)]
    start = time.perf_counter()
    streams = [engine.speak(request) for request in requests]
    await asyncio.gather(*(stream.__anext__() for stream in streams))
    elapsed = time.perf_counter() - start
    for stream in streams:
        await stream.aclose()
    while engine.busy:
        await asyncio.sleep(0.001)
    return elapsed * 1000


def _first_audio_both_ways(loaded: LoadedModel, voice: Segment, counts: list[int]) -> tuple[dict, dict]:
    """Median of 3 of `_first_audio` for each count, on the engine as it serves (prefix cache, batched
    prefill) and on one as it was before both (no cache, one request prefilled at a time). The two take
    turns, so that a change in the machine's load between them cannot favour either."""
    most = max(counts)
    engines = [
        _engine(loaded, most),
        _engine(loaded, most, prefix_cache_mb=0, max_prefill_rows=1),
    ]
    try:
        for engine in engines:  # warm-up; with the prefix cache, it caches the voice
            asyncio.run(_first_audio(engine, voice, 1))
        times: list[dict[int, list[float]]] = [{count: [] for count in counts} for _ in engines]
        for count in counts:
            for _ in range(3):
                for engine, measured in zip(engines, times, strict=True):
                    measured[count].append(asyncio.run(_first_audio(engine, voice, count)))
    finally:
        for engine in engines:
            engine.close()
    cached, uncached = ({count: statistics.median(ms) for count, ms in measured.items()} for measured in times)
    return cached, uncached


async def _aggregate_fps(engine: Engine, voice: Segment, concurrency: int, frames: int) -> tuple[float, float]:
    requests = [
        SpeechRequest(text=TEXT, context=[voice], max_audio_length_ms=frames * FRAME_MS) for _ in range(concurrency)
    ]
    start = time.perf_counter()
    streams = [engine.speak(request) for request in requests]
    await asyncio.gather(*(stream.read_all() for stream in streams))
    elapsed = time.perf_counter() - start
    total = sum(stream.frames for stream in streams)
    return total / elapsed, frames * FRAME_MS / 1000 / elapsed  # aggregate fps, each stream x real time


async def _end_of_stream(engine: Engine, voice: Segment) -> float:
    """ms from a request's last chunk of audio to the end of its stream: one greedy request of 3 frames, alone."""
    request = SpeechRequest(text=TEXT, context=[voice], topk=1, max_audio_length_ms=3 * FRAME_MS)
    last = time.perf_counter()
    async for _ in engine.speak(request):
        last = time.perf_counter()
    return (time.perf_counter() - last) * 1000


def _peak_memory_gib(device: torch.device) -> float:
    """The GPU's peak allocation since the last reset, or the process's peak RSS so far on a CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _memory(gib: float, device: torch.device) -> str:
    return f"{gib:.2f} GiB ({'GPU' if device.type == 'cuda' else 'process RSS so far'})"


def _reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()


def _rtf(ms: float) -> str:
    return f"{ms:.1f} (RTF {ms / FRAME_MS:.3f})"


def _ratio(value: float, better: str, worse: str) -> str:
    """How ours compares, as a factor above 1 either way."""
    return f"{value:.1f}x {better}" if value >= 1 else f"{1 / value:.1f}x {worse}"


def _fps(result: tuple[float, float]) -> str:
    return f"{result[0]:.1f} ({result[1]:.2f}x)"


def _load(name: str, device: str, dtype: str, tokenizer: Path | None = None) -> LoadedModel:
    """The model to measure; `tokenizer`: a Llama 3 tokenizer.json for csm-1b's prompt lengths (default: the
    byte-level tokenizer, whose prompts are about four times longer for English text)."""
    torch_device = pick_device(device)
    torch_dtype = pick_dtype(dtype, torch_device)
    text_tokenizer = load_llama3_tokenizer(tokenizer) if tokenizer else None
    if name == "full-size":
        model, processor = build_full_size_model(dtype=torch_dtype, device=str(torch_device), tokenizer=text_tokenizer)
    else:
        model, processor = build_tiny_model(tokenizer=text_tokenizer)
        model = model.to(device=torch_device, dtype=torch_dtype)
    return LoadedModel(name=name, model=model, processor=processor, device=torch_device, dtype=torch_dtype)


Row = tuple[str, str, str, str]  # measurement, then two sides and how they compare
ROWS = ("frame", "ttfa", "burst", "concurrency", "end")


def _ours(args: argparse.Namespace, loaded: LoadedModel, voice: Segment) -> dict[str, object]:
    device = loaded.device
    _reset_peak_memory(device)
    results: dict[str, object] = {}
    if "frame" in args.rows:
        ours_ms_per_frame(loaded, voice, 3)  # warm-up: the first frames of a process pay one-time costs
        results["ms"] = ours_ms_per_frame(loaded, voice, args.frames)
        if device.type == "cuda":
            results["ms eager"] = ours_ms_per_frame(loaded, voice, args.frames, cuda_graphs=False)
        if args.check:
            results["agreement"] = graphs_agreement(loaded, voice, args.frames)
        if args.compile:
            start = time.perf_counter()  # the generator compiles its frame when it is built
            results["ms compiled"] = ours_ms_per_frame(loaded, voice, args.frames, compile=True)
            results["compile s"] = time.perf_counter() - start
    if "ttfa" in args.rows:
        cached, uncached = _first_audio_both_ways(loaded, voice, [1])
        results["ttfa"], results["ttfa uncached"] = cached[1], uncached[1]
    if "burst" in args.rows:
        results["burst"], results["burst uncached"] = _first_audio_both_ways(loaded, voice, args.burst)
    if "concurrency" in args.rows:
        most = max(args.concurrency)
        engine = _engine(loaded, most)
        try:
            asyncio.run(_aggregate_fps(engine, voice, 1, 3))  # warm-up
            results["fps"] = {n: asyncio.run(_aggregate_fps(engine, voice, n, args.frames)) for n in args.concurrency}
        finally:
            engine.close()
    if "end" in args.rows:
        engine = _engine(loaded, 1)
        try:
            asyncio.run(_end_of_stream(engine, voice))  # warm-up; caches the voice
            results["end"] = statistics.median(asyncio.run(_end_of_stream(engine, voice)) for _ in range(3))
        finally:
            engine.close()
    results["memory"] = _peak_memory_gib(device)
    return results


def _reference(args: argparse.Namespace, loaded: LoadedModel) -> dict[str, object]:
    _reset_peak_memory(loaded.device)
    reference = Reference(loaded, 10.0)
    results: dict[str, object] = {}
    if "frame" in args.rows:
        results["ms"] = reference.ms_per_frame(args.frames)
    if "ttfa" in args.rows:
        results["ttfa"] = statistics.median(reference.time_to_first_audio() for _ in range(3))
    if "concurrency" in args.rows:
        results["fps"] = {n: reference.aggregate_fps(n, args.frames) for n in args.concurrency}
    results["memory"] = _peak_memory_gib(loaded.device)
    return results


def measure(args: argparse.Namespace) -> tuple[LoadedModel, dict[str, object], dict[str, object]]:
    """Runs the chosen rows: (the model, ours, transformers generate())."""
    commit = _commit()  # the code measured: read before a run that may take minutes
    loaded = _load(args.model, args.device, args.dtype, args.tokenizer)
    # what the engine would use unless told, for every measurement on both sides
    torch.set_num_threads(args.threads or worker_threads(model_parameters(loaded.model), loaded.device))
    voice = _voice(loaded.model, 10.0)
    with torch.inference_mode():  # as the engine's worker runs
        ours = _ours(args, loaded, voice) | {"commit": commit, "prompt": prompt_positions(loaded)}
        theirs = _reference(args, loaded) if {"frame", "ttfa", "concurrency"} & set(args.rows) else {}
    return loaded, ours, theirs


def prompt_positions(loaded: LoadedModel) -> dict[str, int]:
    """How many positions the bench's voice context and text take in the model's prompt."""
    builder = PromptBuilder(loaded.model, loaded.processor)
    return {"context": builder.length([_voice(loaded.model, 10.0)]), "text": builder.length([Segment(0, TEXT)])}


def figures(loaded: LoadedModel, ours: dict[str, object], theirs: dict[str, object]) -> dict[str, object]:
    """Every figure as one JSON object (a row not run: null, or an empty object), to compare commits."""

    def rounded(results: dict[str, object], key: str) -> float | None:
        return round(results[key], 3) if key in results else None

    def by_count(key: str) -> dict[str, float]:
        return {str(count): round(ms, 2) for count, ms in ours.get(key, {}).items()}

    return {
        "ms_per_frame": rounded(ours, "ms"),
        "generate_ms_per_frame": rounded(theirs, "ms"),
        "ttfa_ms": rounded(ours, "ttfa"),
        "ttfa_uncached_ms": rounded(ours, "ttfa uncached"),
        "burst_first_audio_ms": by_count("burst"),
        "burst_first_audio_uncached_ms": by_count("burst uncached"),
        "frames_per_s": {str(n): round(fps, 1) for n, (fps, _) in ours.get("fps", {}).items()},
        "end_ms": rounded(ours, "end"),
        "peak_memory_gib": round(ours["memory"], 3),
        "prompt_positions": ours["prompt"],
        "machine": _machine(loaded.device),
        "commit": ours["commit"],
    }


def _generate_rows(loaded: LoadedModel, ours: dict[str, object], theirs: dict[str, object]) -> list[Row]:
    rows: list[Row] = []
    if "ms" in ours:
        rows.append(
            (
                "ms per frame, batch 1",
                _rtf(ours["ms"]),
                _rtf(theirs["ms"]),
                _ratio(theirs["ms"] / ours["ms"], "faster", "slower"),
            )
        )
    if "ms eager" in ours:
        rows.append(
            (
                "ms per frame, batch 1, without CUDA graphs",
                _rtf(ours["ms eager"]),
                "",
                _ratio(theirs["ms"] / ours["ms eager"], "faster", "slower"),
            )
        )
    if "ms compiled" in ours:
        rows.append(
            (
                f"ms per frame, batch 1, CSM_COMPILE=1 (compiling took {ours['compile s']:.0f} s)",
                _rtf(ours["ms compiled"]),
                "",
                _ratio(theirs["ms"] / ours["ms compiled"], "faster", "slower"),
            )
        )
    if "agreement" in ours:
        if loaded.device.type == "cuda":
            check = "greedy codes of CUDA graphs equal to the same steps run eagerly"
        else:
            check = "greedy codes of bucketed steps (the CUDA-graph path, eager) equal to direct steps"
        rows.append((check, f"{ours['agreement']:.1%}", "", ""))
    if "ttfa" in ours:
        rows.append(
            (
                "time to first audio, saved 10 s voice (median of 3)",
                f"{ours['ttfa']:.0f} ms",
                f"{theirs['ttfa']:.0f} ms (one-frame generate() + decode)",
                _ratio(theirs["ttfa"] / ours["ttfa"], "sooner", "later"),
            )
        )
    for concurrency, mine in ours.get("fps", {}).items():
        other = theirs["fps"][concurrency]
        rows.append(
            (
                f"{concurrency} concurrent: frames/s (each stream x real time)",
                _fps(mine),
                _fps(other),
                _ratio(mine[0] / other[0], "more", "fewer"),
            )
        )
    if not theirs:
        return []
    rows.append(("peak memory", _memory(ours["memory"], loaded.device), _memory(theirs["memory"], loaded.device), ""))
    return rows


def _prefill_rows(ours: dict[str, object]) -> list[Row]:
    rows: list[Row] = []
    if "ttfa" in ours:
        rows.append(
            (
                "time to first audio, saved 10 s voice (median of 3)",
                f"{ours['ttfa']:.0f} ms",
                f"{ours['ttfa uncached']:.0f} ms",
                _ratio(ours["ttfa uncached"] / ours["ttfa"], "sooner", "later"),
            )
        )
    for count, ms in ours.get("burst", {}).items():
        before = ours["burst uncached"][count]
        rows.append(
            (
                f"{count} arriving together: all have first audio (median of 3)",
                f"{ms:.0f} ms",
                f"{before:.0f} ms",
                _ratio(before / ms, "sooner", "later"),
            )
        )
    return rows


def _commit() -> str:
    """The checkout's commit (`-dirty` when it has changes), or why it is unknown."""
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return result.stdout.strip() or "unknown (not a git checkout)"


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
    threads = torch.get_num_threads()
    return f"{cpu}, {len(os.sched_getaffinity(0))} cores, {threads} intra-op thread{'s' * (threads != 1)}"


def _report(args: argparse.Namespace, loaded: LoadedModel, ours: dict[str, object], theirs: dict[str, object]) -> str:
    lines = [
        f"### {args.model} on {loaded.device.type} ({str(loaded.dtype).removeprefix('torch.')}), "
        f"{datetime.date.today().isoformat()}",
        "",
        f"- command: `python -m speech.engine.bench {' '.join(sys.argv[1:])}`".rstrip(),
        f"- machine: {_machine(loaded.device)}; torch {torch.__version__}; python {platform.python_version()}",
        f"- commit: {ours['commit']}; {args.frames} timed frames per measurement",
        "- prompt: the 10 s voice takes {context} positions, the text {text} ({tokenizer})".format(
            **ours["prompt"],
            tokenizer="csm-1b's tokenizer" if args.tokenizer else "byte-level tokenizer",
        ),
        "",
    ]
    if rows := _generate_rows(loaded, ours, theirs):
        lines += [
            "| measurement | ours | transformers generate() | ours vs generate() |",
            "|---|---|---|---|",
            *(f"| {' | '.join(row)} |" for row in rows),
            "",
        ]
    if rows := _prefill_rows(ours):
        lines += [
            "| measurement | prefix cache, batched prefill | no cache, one prefill at a time | ratio |",
            "|---|---|---|---|",
            *(f"| {' | '.join(row)} |" for row in rows),
            "",
        ]
    if "end" in ours:
        lines += [
            "| measurement | ours |",
            "|---|---|",
            f"| last audio to the end of its stream, one request (median of 3) | {ours['end']:.2f} ms |",
            "",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["tiny-random", "full-size"], default="tiny-random")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument(
        "--concurrency",
        type=_counts,
        default=[1, 4, 16, 32],
        help="comma-separated numbers of concurrent requests (default 1,4,16,32)",
    )
    parser.add_argument("--compile", action="store_true", help="also time the torch.compile'd depth frame")
    parser.add_argument(
        "--check", action="store_true", help="also compare the greedy codes of the CUDA-graph path with direct steps"
    )
    parser.add_argument(
        "--burst",
        type=_counts,
        default=[1, 8, 32],
        help="comma-separated numbers of requests arriving together (default 1,8,32)",
    )
    parser.add_argument(
        "--rows",
        type=_rows,
        default=list(ROWS),
        help=f"comma-separated measurements to run (default all: {','.join(ROWS)})",
    )
    parser.add_argument(
        "--threads", type=_positive, help="CPU threads for every measurement (default: what the engine picks)"
    )
    parser.add_argument(
        "--tokenizer",
        type=Path,
        help="a Llama 3 tokenizer.json (csm-1b's text tokenizer), for the real model's prompt lengths",
    )
    parser.add_argument("--json", action="store_true", help="print every figure as one JSON object instead")
    parser.add_argument("--append", type=Path, help="append the table to this markdown file")
    args = parser.parse_args()
    loaded, ours, theirs = measure(args)
    report = _report(args, loaded, ours, theirs)
    if args.json:
        print(json.dumps(figures(loaded, ours, theirs)))
    else:
        print(report)
    if args.append:
        with args.append.open("a") as handle:
            handle.write("\n" + report)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {value!r}")
    return int(value)


def _counts(value: str) -> list[int]:
    return [int(part) for part in value.split(",")]


def _rows(value: str) -> list[str]:
    rows = value.split(",")
    if unknown := set(rows) - set(ROWS):
        raise argparse.ArgumentTypeError(f"unknown rows {sorted(unknown)}; choose from {','.join(ROWS)}")
    return rows


if __name__ == "__main__":
    main()
