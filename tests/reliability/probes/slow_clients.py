"""Probe (not a test): many clients sending their request a byte at a time, and how long the server keeps them.

    .venv/bin/python -m tests.reliability.probes.slow_clients --clients 400 --seconds 40
    .venv/bin/python -m tests.reliability.probes.slow_clients --server daphne   # plain Daphne, before

It starts the server like `probes.uploads` does, opens `--clients` connections that send a request's headers
one byte a second (half of them), or a declared body one byte a second (the other half), and prints every
5 s how many of them the server still keeps open. Figures: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import time
from pathlib import Path

from tests.reliability.probes.uploads import start_server

HEADERS = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
# A path that needs no key (a /v1/ body without one is refused at once), so that the body is waited for.
BODY_HEAD = b"POST /admin/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
BODY_HEAD += b"Content-Length: 1000\r\n\r\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="config.server", help="config.server (guarded) or daphne (plain)")
    parser.add_argument("--clients", type=int, default=400)
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--port", type=int, default=18960)
    args = parser.parse_args()

    server = start_server(args.server, args.port, Path(tempfile.mkdtemp(prefix="probe-slow-")))
    try:
        clients = []
        for index in range(args.clients):
            sock = socket.create_connection(("127.0.0.1", args.port))
            sock.setblocking(False)
            if index % 2:
                sock.sendall(BODY_HEAD)
            clients.append([sock, 0])
        started = time.monotonic()
        next_report = 0.0
        while (elapsed := time.monotonic() - started) < args.seconds:
            for client in clients:
                sock, sent = client
                if sock is None:
                    continue
                try:
                    if sock.recv(65536) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass
                except OSError:
                    client[0] = None
                    continue
                try:
                    sock.send(HEADERS[sent : sent + 1] if sent < len(HEADERS) else b" ")
                    client[1] += 1
                except BlockingIOError:
                    pass
                except OSError:
                    client[0] = None
            if elapsed >= next_report:
                open_now = sum(client[0] is not None for client in clients)
                print(f"{elapsed:5.1f} s: {open_now} of {args.clients} slow clients still connected", flush=True)
                next_report += 5
            time.sleep(1)
        print(f"{args.seconds} s: {sum(c[0] is not None for c in clients)} of {args.clients} still connected")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
