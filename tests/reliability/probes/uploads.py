"""Probe (not a test): concurrent large uploads against a production-configured server, and what they cost it.

    .venv/bin/python -m tests.reliability.probes.uploads --uploads 10 --megabytes 200
    .venv/bin/python -m tests.reliability.probes.uploads --server daphne --uploads 1   # plain Daphne, before

It starts the server (`--server config.server`, the guarded one, or `daphne`) with the production settings
(DEBUG off, keys required) on a fresh SQLite database, then sends `--uploads` multipart uploads of
`--megabytes` MB to /v1/voice-clone at once, without an API key, while it asks /health every 0.1 s. It prints
the server's resident memory before and at its peak (VmHWM), how each upload was answered and /health's
latencies. Figures and the machine they were taken on: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

REPO_DIR = Path(__file__).resolve().parents[3]
BOUNDARY = "probe-boundary"
PIECE = b"\0" * 2**20


def start_server(module: str, port: int, workdir: Path) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": os.environ.get("DATABASE_URL", f"sqlite:///{workdir / 'probe.sqlite3'}"),
        "MEDIA_ROOT": str(workdir / "media"),
        "CSM_MODEL": "tiny-random",
        "DEBUG": "0",
        "SECRET_KEY": "probe",
        "CSM_REQUIRE_API_KEY": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO_DIR, env=env, check=True)
    command = [sys.executable, "-m", module, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["model"]["status"] == "ready":
                return process
        except (requests.RequestException, ValueError, KeyError):
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the server did not start; see {workdir / 'server.log'}")


def memory_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def upload(port: int, megabytes: int, results: list, index: int) -> None:
    """One multipart upload with a `megabytes` MB audio file; records how it was answered."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="text"\r\n\r\nHello.\r\n'
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="audio_file"; filename="big.wav"\r\n'
        "Content-Type: audio/wav\r\n\r\n"
    ).encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    size = megabytes * 2**20
    started = time.monotonic()
    sent = 0
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.putrequest("POST", "/v1/voice-clone")
        connection.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        connection.putheader("Content-Length", str(len(head) + size + len(tail)))
        connection.endheaders()
        try:
            connection.send(head)
            while sent < size:
                connection.send(PIECE[: min(len(PIECE), size - sent)])
                sent += min(len(PIECE), size - sent)
            connection.send(tail)
        except OSError:
            pass  # the server stopped reading; its answer may be waiting
        response = connection.getresponse()
        outcome = f"{response.status} {response.read()[:100]!r}"
    except OSError as error:
        outcome = f"no answer ({type(error).__name__}: {error})"
    finally:
        connection.close()
    results[index] = (outcome, sent, time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="config.server", help="config.server (guarded) or daphne (plain)")
    parser.add_argument("--uploads", type=int, default=10)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--port", type=int, default=18950)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="probe-uploads-"))
    server = start_server(args.server, args.port, workdir)
    try:
        time.sleep(2)
        baseline = memory_kib(server.pid, "VmRSS")
        Path(f"/proc/{server.pid}/clear_refs").write_text("5")  # VmHWM (peak RSS) counts from here
        latencies: list[float] = []
        done = threading.Event()

        def poll_health() -> None:
            while not done.is_set():
                started = time.monotonic()
                try:
                    requests.get(f"http://127.0.0.1:{args.port}/health", timeout=60)
                    latencies.append(time.monotonic() - started)
                except requests.RequestException:
                    latencies.append(float("inf"))
                time.sleep(0.1)

        poller = threading.Thread(target=poll_health)
        poller.start()
        results: list = [None] * args.uploads
        threads = [
            threading.Thread(target=upload, args=(args.port, args.megabytes, results, index))
            for index in range(args.uploads)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        time.sleep(1)
        done.set()
        poller.join()
        peak = memory_kib(server.pid, "VmHWM")
        after = memory_kib(server.pid, "VmRSS")
    finally:
        server.terminate()
        server.wait(timeout=30)

    print(f"server: {args.server}; {args.uploads} uploads of {args.megabytes} MiB at once, no API key")
    print(f"uploads done in {elapsed:.1f} s")
    for index, (outcome, sent, seconds) in enumerate(results):
        print(f"  upload {index}: {outcome} after sending {sent / 2**20:.0f} MiB in {seconds:.1f} s")
    growth = (peak - baseline) / 1024
    print(f"RSS before {baseline / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB (growth {growth:.0f} MiB)")
    print(f"RSS after {after / 1024:.0f} MiB")
    print(
        f"/health: {len(latencies)} answers, median {statistics.median(latencies) * 1000:.0f} ms, "
        f"max {max(latencies) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
