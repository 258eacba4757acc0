"""The documented metrics run (docs/operations.md): two server processes behind nginx, scraped by Prometheus,
under the load probe; then screenshots of Prometheus' graphs and the figures Prometheus recorded.

Not a test. It needs Debian's `nginx`, `prometheus` and `chromium`, the `browser` extra (playwright), and the
database and Redis the servers share:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/metrics REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python -m tests.reliability.probes.prometheus_run --clients 16 --seconds 120 --out docs/operations

The servers run with production settings (DEBUG off, keys required, CSM_NUM_PROXIES=1) on the tiny random model;
the rate limit is off, as in tests/reliability, so that the per-key stream cap and the engine's queue are what
refuse. Every step's output goes to a temporary folder, printed at the start.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

from tests.nginx import Nginx

REPO_DIR = Path(__file__).resolve().parents[3]
PYTHON = sys.executable
SERVER_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "prometheus-run",
    "CSM_MODEL": "tiny-random",
    "CSM_REQUIRE_API_KEY": "1",
    "CSM_RATE_LIMIT": "",
    "CSM_NUM_PROXIES": "1",
    "PYTHONUNBUFFERED": "1",
}
# The three graphs of the screenshot: time to first audio, active requests, audio seconds per second.
GRAPHS = {
    "p95 time to first audio by kind (s)": (
        "histogram_quantile(0.95, sum by (le, kind) (rate(csm_time_to_first_audio_seconds_bucket[30s])))"
    ),
    "active requests by process": "csm_requests_active",
    "audio seconds per second by process": "rate(csm_audio_seconds_total[30s])",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not answer at {url}")


def start(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)


def prometheus_config(ports: list[int], workdir: Path) -> Path:
    """deploy/prometheus.yml with the servers' ports and a 2 s scrape interval (a short run)."""
    config = (REPO_DIR / "deploy" / "prometheus.yml").read_text()
    targets = ", ".join(f'"127.0.0.1:{port}"' for port in ports)
    config = config.replace('["127.0.0.1:8000", "127.0.0.1:8001"]', f"[{targets}]")
    config = config.replace("scrape_interval: 5s", "scrape_interval: 2s")
    path = workdir / "prometheus.yml"
    path.write_text(config)
    return path


def query(prometheus: str, expr: str, at: float) -> list[dict]:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": expr, "time": at}, timeout=10)
    response.raise_for_status()
    return response.json()["data"]["result"]


def figures(prometheus: str, started: float, ended: float) -> list[str]:
    """What Prometheus recorded over the run, by process."""
    window = f"{int(ended - started)}s"
    lines = []
    for title, expr in [
        ("requests finished, by process and kind", f"sum by (instance, kind) (increase(csm_requests_total[{window}]))"),
        ("audio seconds made, by process", f"increase(csm_audio_seconds_total[{window}])"),
        ("audio seconds per second, mean over the run", f"sum(rate(csm_audio_seconds_total[{window}]))"),
        ("most requests active at once, by process", f"max_over_time(csm_requests_active[{window}])"),
        ("most requests waiting at once, by process", f"max_over_time(csm_requests_waiting[{window}])"),
        (
            "time to first audio p50 by kind (s)",
            f"histogram_quantile(0.5, sum by (le, kind) (increase(csm_time_to_first_audio_seconds_bucket[{window}])))",
        ),
        (
            "time to first audio p95 by kind (s)",
            f"histogram_quantile(0.95, sum by (le, kind) (increase(csm_time_to_first_audio_seconds_bucket[{window}])))",
        ),
        (
            "speed against real time per stream",
            f"sum(increase(csm_audio_seconds_total[{window}])) / sum(increase(csm_generation_seconds_total[{window}]))",
        ),
        (
            "mean batch size",
            f"sum(increase(csm_batch_size_sum[{window}])) / sum(increase(csm_batch_size_count[{window}]))",
        ),
        ("refusals by reason", f"sum by (reason) (increase(csm_requests_rejected_total[{window}])) > 0"),
        ("WebSocket utterances", f"sum(increase(csm_utterances_total[{window}]))"),
        (
            "HTTP responses by status",
            f"sum by (status) (increase(django_http_responses_total_by_status_view_method_total[{window}]))",
        ),
        ("database statements, by process", f"increase(django_db_execute_total[{window}])"),
    ]:
        lines.append(f"{title}:")
        for result in query(prometheus, expr, ended):
            labels = ", ".join(f"{k}={v}" for k, v in sorted(result["metric"].items()) if k != "job")
            lines.append(f"    {labels or '-'}: {float(result['value'][1]):.3f}")
    return lines


def dashboard_queries(prometheus: str, at: float) -> list[str]:
    """Each query of deploy/grafana/csm-voice-api.json, run by Prometheus: how many series it returned."""
    dashboard = json.loads((REPO_DIR / "deploy" / "grafana" / "csm-voice-api.json").read_text())
    lines = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$__rate_interval", "30s").replace('instance=~"$instance"', 'instance=~".*"')
            lines.append(f"{len(query(prometheus, expr, at))} series: {panel['title']}: {expr}")
    return lines


def screenshot(prometheus: str, started: float, path: Path) -> None:
    """Prometheus' graph page (Debian ships its classic UI) with the three GRAPHS over the run, in Debian's
    chromium."""
    from playwright.sync_api import sync_playwright

    params = {}
    span = int(time.time() - started) + 15  # up to now: the UI's end time has minutes only
    for index, expr in enumerate(GRAPHS.values()):
        params |= {f"g{index}.expr": expr, f"g{index}.tab": "0", f"g{index}.range_input": f"{span}s"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--headless", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{prometheus}/classic/graph?{urlencode(params)}")
        page.add_style_tag(content=".navbar { position: static !important; }")  # not over the graphs in a full page
        for index in range(len(GRAPHS)):  # each graph's legend appears once its query has answered and drawn
            page.locator(".legend").nth(index).locator("li").first.wait_for(timeout=30_000)
        page.screenshot(path=str(path), full_page=True)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--out", type=Path, default=REPO_DIR / "docs" / "operations")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL (and REDIS_URL): the two servers share them.")
    workdir = Path(tempfile.mkdtemp(prefix="prometheus-run-"))
    print(f"logs and configuration in {workdir}")
    env = {**os.environ, **SERVER_ENV, "MEDIA_ROOT": str(workdir / "media")}
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=REPO_DIR, env=env, check=True)
    key = (
        subprocess.run(
            [PYTHON, "manage.py", "create_api_key", "prometheus run"],
            cwd=REPO_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .strip()
    )

    processes = []
    try:
        ports = [free_port(), free_port()]
        for number, port in enumerate(ports):
            command = [PYTHON, "-m", "config.server", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
            processes.append(start(command, workdir / f"server-{number}.log", env))
        for port in ports:
            wait_http(f"http://127.0.0.1:{port}/health", "a server")
        nginx = Nginx(ports, workdir)
        processes.append(nginx.process)
        prometheus_port = free_port()
        prometheus = f"http://127.0.0.1:{prometheus_port}"
        command = [
            "prometheus",
            f"--config.file={prometheus_config(ports, workdir)}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{prometheus_port}",
        ]
        processes.append(start(command, workdir / "prometheus.log"))
        wait_http(f"{prometheus}/-/ready", "Prometheus")
        time.sleep(6)  # a few scrapes of the idle servers first

        started = time.time()
        load = [PYTHON, "-m", "tests.reliability.probes.load", "--url", nginx.url]
        load += ["--clients", str(args.clients), "--seconds", str(args.seconds), "--key", key]
        result = subprocess.run(load, cwd=REPO_DIR, capture_output=True, text=True)
        print(result.stdout, result.stderr[-2000:], sep="\n")
        time.sleep(6)  # the last scrapes
        ended = time.time()

        print(f"servers on ports {ports} behind nginx at {nginx.url}; Prometheus on {prometheus_port}")
        print("\n".join(figures(prometheus, started, ended)))
        print("\nThe Grafana dashboard's queries, run by Prometheus at the end of the load:")
        print("\n".join(dashboard_queries(prometheus, ended - 10)))
        args.out.mkdir(parents=True, exist_ok=True)
        screenshot(prometheus, started, args.out / "prometheus.png")
        print(f"screenshot: {args.out / 'prometheus.png'}")
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
