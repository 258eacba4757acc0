"""The benchmark entry point runs from a fresh checkout and writes its side-by-side table (no timings
are asserted: speed belongs in docs/benchmarks.md)."""

import json
import re
import subprocess
import sys
from pathlib import Path

BENCH = [sys.executable, "-m", "speech.engine.bench", "--device", "cpu", "--dtype", "float32"]
NUMBER = r"\d+(\.\d+)?"


def test_bench_prints_and_appends_its_table(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n")
    command = [*BENCH, "--frames", "4", "--concurrency", "1,2", "--burst", "1,2", "--check"]
    result = subprocess.run([*command, "--append", str(report)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    table = report.read_text()
    assert table.startswith("# Benchmarks\n") and "### tiny-random on cpu (float32)" in table
    assert "| measurement | ours | transformers generate() | ours vs generate() |" in table
    assert "| measurement | prefix cache, batched prefill | no cache, one prefill at a time | ratio |" in table
    assert table.split("### ", 1)[1] in result.stdout
    assert re.search(rf"\| ms per frame, batch 1 \| {NUMBER} \(RTF {NUMBER}\) \| {NUMBER} \(RTF {NUMBER}\) \|", table)
    assert re.search(rf"\| 2 concurrent: frames/s \(each stream x real time\) \| {NUMBER} \({NUMBER}x\) \|", table)
    assert re.search(
        rf"\| 2 arriving together: all have first audio \(median of 3\) \| {NUMBER} ms \| {NUMBER} ms \|", table
    )
    assert "equal to direct steps | 100.0% |" in table
    assert re.search(rf"\| last audio to the end of its stream, one request \(median of 3\) \| {NUMBER} ms \|", table)


def test_bench_json_has_every_figure_and_rows_can_be_chosen() -> None:
    command = [*BENCH, "--frames", "2", "--concurrency", "1,2", "--burst", "1,2", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout)
    assert set(figures) == {
        "ms_per_frame",
        "generate_ms_per_frame",
        "ttfa_ms",
        "ttfa_uncached_ms",
        "burst_first_audio_ms",
        "burst_first_audio_uncached_ms",
        "frames_per_s",
        "end_ms",
        "peak_memory_gib",
        "prompt_positions",
        "machine",
        "commit",
    }
    for key in ("ms_per_frame", "ttfa_ms", "ttfa_uncached_ms", "peak_memory_gib"):
        assert figures[key] > 0
    # a difference of two generate() calls: a number, though over 2 frames on a busy machine not always above 0
    assert isinstance(figures["generate_ms_per_frame"], float)
    for key in ("burst_first_audio_ms", "burst_first_audio_uncached_ms"):
        assert set(figures[key]) == {"1", "2"} and all(ms > 0 for ms in figures[key].values())
    assert set(figures["frames_per_s"]) == {"1", "2"}
    assert figures["end_ms"] >= 0
    assert figures["machine"] and figures["commit"]
    # byte-level: a position per character (and one per audio frame)
    assert figures["prompt_positions"] == {"context": 213, "text": 81}

    only = subprocess.run([*BENCH, "--rows", "ttfa", "--json"], capture_output=True, text=True, timeout=300)
    assert only.returncode == 0, only.stderr
    figures = json.loads(only.stdout)
    assert figures["ttfa_ms"] > 0 and figures["ttfa_uncached_ms"] > 0
    assert figures["ms_per_frame"] is None and figures["burst_first_audio_ms"] == {} and figures["frames_per_s"] == {}
    assert figures["end_ms"] is None
    bad = subprocess.run([*BENCH, "--rows", "ttfa,nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown rows ['nope']" in bad.stderr
