"""Every shell and Python snippet in README.md runs as written against a live server.

The snippets run in a temporary folder holding what the repository root holds for them (a copy of
`examples/`, with the example voice, and `.venv` pointing at this run's environment), with
`localhost:8000` pointed at the suite's Daphne server. The shell snippets run in order in one bash
session, as a reader pastes them into one terminal, with `set -euo pipefail` and curl failing on an HTTP
error (`--fail-with-body`); each Python snippet runs as its own script.

A snippet that cannot run here is marked on the line before its fence, visibly in README.md:
`<!-- readme-test: skip (why) -->`. Keep that list short.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import av
import pytest

from tests.fixtures import REPO_DIR

README = REPO_DIR / "README.md"
SKIP_MARK = "<!-- readme-test: skip"
FENCE = re.compile(r"^```(bash|python)\n(.*?)^```", re.DOTALL | re.MULTILINE)
AUDIO_SUFFIXES = {".wav", ".mp3", ".opus", ".aac", ".flac"}
PARTIAL_FILES = {"first-kb.mp3"}  # a Range request's first kilobyte: not a whole file


def snippets(language: str) -> list[tuple[int, str]]:
    """(line number, code) of every block in `language` not marked to skip."""
    text = README.read_text()
    found = []
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        if match.group(1) == language and not before.startswith(SKIP_MARK):
            found.append((line, match.group(2)))
    return found


def for_server(code: str, server) -> str:
    return code.replace("http://localhost:8000", server.url).replace(
        "ws://localhost:8000", server.url.replace("http://", "ws://")
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copytree(REPO_DIR / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / ".venv").symlink_to(sys.prefix)
    return tmp_path


def assert_audio_files_decode(folder: Path) -> None:
    """Every audio file the snippets wrote is whole, decodable audio."""
    written = [
        path
        for path in folder.rglob("*")
        if path.suffix in AUDIO_SUFFIXES and "examples" not in path.relative_to(folder).parts
    ]
    assert written, "the snippets wrote no audio"
    for path in written:
        if path.name in PARTIAL_FILES:
            assert path.stat().st_size == 1024, path.name
            continue
        with av.open(str(path)) as container:
            frames = list(container.decode(audio=0))
        assert frames, f"{path.name} holds no audio"


def test_the_marked_skips_are_few():
    assert README.read_text().count(SKIP_MARK) <= 2


def test_shell_snippets_run_in_order_in_one_shell(server, workdir: Path) -> None:
    if not (shutil.which("curl") and shutil.which("jq")):
        pytest.skip("the README's shell snippets need curl and jq")
    script = ["set -euo pipefail", 'curl() { command curl --fail-with-body "$@"; }']
    for line, code in snippets("bash"):
        script += [f"echo '--- README.md line {line}' >&2", for_server(code, server)]
    result = subprocess.run(["bash", "-c", "\n".join(script)], cwd=workdir, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{result.stderr[-4000:]}\n{result.stdout[-2000:]}"
    assert_audio_files_decode(workdir)


PYTHON_SNIPPETS = [pytest.param(line, code, id=f"line-{line}") for line, code in snippets("python")]


@pytest.mark.parametrize(("line", "code"), PYTHON_SNIPPETS)
def test_python_snippet_runs(server, workdir: Path, line: int, code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", for_server(code, server)], cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"README.md line {line}:\n{result.stderr[-4000:]}"
    if any(path.suffix in AUDIO_SUFFIXES for path in workdir.iterdir()):
        assert_audio_files_decode(workdir)
