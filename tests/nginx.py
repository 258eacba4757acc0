"""deploy/nginx.conf run by the tests: its upstream pointed at live servers, its port and log in a work folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import requests

from tests.conftest import REPO_DIR, _free_port

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
UPSTREAM = "        server 127.0.0.1:8000;\n        server 127.0.0.1:8001;\n"
WAIT = 60


class Nginx:
    """nginx running deploy/nginx.conf in front of the servers on `ports`, with its access log in `workdir`."""

    def __init__(self, ports: list[int], workdir: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.access_log = workdir / "access.log"
        config = (REPO_DIR / "deploy" / "nginx.conf").read_text()
        for old, new in [
            (UPSTREAM, "".join(f"        server 127.0.0.1:{port};\n" for port in ports)),
            ("listen 80;", f"listen 127.0.0.1:{self.port};"),
            ("/var/log/nginx/csm-voice-api.log", str(self.access_log)),
        ]:
            assert old in config, f"deploy/nginx.conf no longer has {old!r}"
            config = config.replace(old, new)
        (workdir / "nginx.conf").write_text(config)
        self.error_log = workdir / "error.log"
        directives = f"daemon off; pid {workdir}/nginx.pid; error_log {self.error_log};"
        if os.geteuid() == 0:
            directives += " user root;"  # the workers write request bodies under workdir
        command = [NGINX, "-p", str(workdir), "-c", str(workdir / "nginx.conf"), "-e", str(self.error_log)]
        self.process = subprocess.Popen([*command, "-g", directives])
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"nginx did not start: {self.error_log.read_text()[-2000:]}")

    def upstreams(self, path_part: str) -> list[str]:
        """The upstream address (127.0.0.1:port) of each logged request whose line contains `path_part`; a
        WebSocket is logged when it closes."""
        if not self.access_log.exists():
            return []
        lines = [line for line in self.access_log.read_text().splitlines() if path_part in line]
        return [match.group(1) for line in lines if (match := re.search(r"upstream=(\S+)", line))]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
