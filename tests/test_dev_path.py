"""The development path on a fresh checkout: `make api-key` works without guessing a setting.

Runs the Makefile in a copy of the repository (no .env, no DEBUG or SECRET_KEY in the environment), with
this test run's virtual environment and a SQLite file of its own.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import REPO_DIR

IGNORED = shutil.ignore_patterns(".git", ".venv", ".env", "db.sqlite3", "media", "__pycache__", "*.egg-info", "tests")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    copy = tmp_path / "csm-voice-api"
    shutil.copytree(REPO_DIR, copy, ignore=IGNORED)
    return copy


def run(command: list[str], checkout: Path) -> subprocess.CompletedProcess:
    # MAKEFLAGS and MAKELEVEL: under `make test` a sub-make would print "Entering directory" lines.
    unset = {"DEBUG", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    env = {key: value for key, value in os.environ.items() if key not in unset}
    env |= {"DATABASE_URL": f"sqlite:///{checkout / 'db.sqlite3'}", "MEDIA_ROOT": str(checkout / "media")}
    return subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.skipif(sys.prefix == sys.base_prefix, reason="needs the suite to run in a virtual environment")
def test_make_api_key_works_on_a_fresh_checkout(checkout: Path) -> None:
    venv = Path(sys.prefix)
    refused = run([str(venv / "bin" / "python"), "manage.py", "check"], checkout)
    assert refused.returncode != 0
    assert "cp .env.example .env" in refused.stderr  # the error says what to do

    # -o: this venv is installed already (the copy's pyproject.toml is newer than its marker).
    made = run(["make", "api-key", "NAME=laptop", f"VENV={venv}", "-o", f"{venv}/bin/.installed"], checkout)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (checkout / ".env").read_text() == (checkout / ".env.example").read_text()
    secret = made.stdout.strip().splitlines()[-1]
    assert "Store the secret now" in made.stderr
    with sqlite3.connect(checkout / "db.sqlite3") as db:
        [(name, prefix)] = db.execute("SELECT name, prefix FROM accounts_apikey").fetchall()
    assert name == "laptop" and secret.startswith(prefix)

    # Now plain manage.py commands work too: the settings come from .env.
    assert run([str(venv / "bin" / "python"), "manage.py", "check"], checkout).returncode == 0


def test_make_api_key_without_a_name_says_how(checkout: Path) -> None:
    venv = Path(sys.prefix)
    made = run(["make", "api-key", f"VENV={venv}", "-o", f"{venv}/bin/.installed"], checkout)
    assert made.returncode != 0
    assert "make api-key NAME=" in made.stdout
