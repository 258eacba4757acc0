"""The dependency rule of docs/architecture.md, read from the code's own imports.

Apps depend downward only: synthesis and streaming -> voices -> accounts -> speech (the core) -> speech.engine,
which imports nothing of the project outside itself.
config sits on top (settings, urls, asgi, the error handler) and nothing imports it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO_DIR = Path(__file__).resolve().parents[1]
# Each package and its layer: a package may import only packages of lower layers (and itself).
LAYERS = {"speech": 0, "accounts": 1, "voices": 2, "synthesis": 3, "streaming": 3, "playground": 3, "config": 4}
APPS = ("accounts", "voices", "synthesis", "streaming")
WEB_FRAMEWORKS = ("django", "rest_framework", "adrf", "channels", "daphne", "drf_spectacular")


def _modules(package: str) -> list[Path]:
    return [path for path in (REPO_DIR / package).rglob("*.py") if "migrations" not in path.parts]


def _imports(path: Path) -> list[str]:
    """Absolute names of the modules a file imports (relative imports resolved)."""
    parts = list(path.relative_to(REPO_DIR).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from (a module's own, or an __init__'s)
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from a import b` may import the module a.b: count both.
            names.extend(name for alias in node.names for name in (module, f"{module}.{alias.name}"))
    return names


def _project_imports(package: str) -> list[tuple[Path, str]]:
    return [
        (path, name)
        for path in _modules(package)
        for name in _imports(path)
        if name.split(".")[0] in LAYERS and name.split(".")[0] != package
    ]


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_packages_import_only_the_layers_below(package):
    upward = [
        f"{path.relative_to(REPO_DIR)} imports {name}"
        for path, name in _project_imports(package)
        if LAYERS[name.split(".")[0]] >= LAYERS[package]
    ]
    assert upward == []


@pytest.mark.parametrize("package", APPS)
def test_no_app_imports_another_apps_views_or_serializers(package):
    crossing = [
        f"{path.relative_to(REPO_DIR)} imports {name}"
        for path, name in _project_imports(package)
        if name.split(".")[0] in APPS and {"views", "serializers", "consumers"} & set(name.split(".")[1:2])
    ]
    assert crossing == []


def test_the_core_imports_no_app():
    assert [name for _, name in _project_imports("speech") if name.split(".")[0] != "speech"] == []


def test_the_engine_imports_nothing_of_the_project_outside_itself():
    outside = [
        f"{path.relative_to(REPO_DIR)} imports {name}"
        for path in (REPO_DIR / "speech" / "engine").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in LAYERS and not name.startswith("speech.engine")
    ]
    assert outside == []


def test_the_engine_imports_no_web_framework():
    found = [
        f"{path.relative_to(REPO_DIR)} imports {name}"
        for path in (REPO_DIR / "speech" / "engine").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in WEB_FRAMEWORKS
    ]
    assert found == []
    # And what it pulls in at run time loads no Django either.
    script = (
        "import sys, speech.engine.worker, speech.engine.bench, speech.engine.tiny; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_FRAMEWORKS!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", script], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_no_import_cycle_between_top_level_packages():
    graph = {package: {name.split(".")[0] for _, name in _project_imports(package)} for package in LAYERS}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in graph[start])

    assert [package for package in LAYERS if reaches(package, package, {package})] == []
