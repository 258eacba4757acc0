"""The benchmark entry point runs from a fresh checkout and writes its side-by-side table (no timings
are asserted: speed belongs in docs/benchmarks.md)."""

import re
import subprocess
import sys
from pathlib import Path


def test_bench_prints_and_appends_its_table(tmp_path: Path) -> None:
    report = tmp_path / "benchmarks.md"
    report.write_text("# Benchmarks\n")
    command = [sys.executable, "-m", "speech.engine.bench", "--device", "cpu", "--dtype", "float32"]
    command += ["--frames", "4", "--concurrency", "1,2", "--check"]
    result = subprocess.run([*command, "--append", str(report)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    table = report.read_text()
    assert table.startswith("# Benchmarks\n") and "### tiny-random on cpu (float32)" in table
    assert "| measurement | ours | transformers generate() | ours vs generate() |" in table
    assert table.split("### ", 1)[1] in result.stdout
    number = r"\d+(\.\d+)?"
    assert re.search(rf"\| ms per frame, batch 1 \| {number} \(RTF {number}\) \| {number} \(RTF {number}\) \|", table)
    assert re.search(rf"\| 2 concurrent: frames/s \(each stream x real time\) \| {number} \({number}x\) \|", table)
    assert "equal to direct steps | 100.0% |" in table
