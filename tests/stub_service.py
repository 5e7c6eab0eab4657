"""Stand-ins for the assistant service that start at once, for tests of `up` and `simulate-call`.

python stub_service.py http HOST PORT STATE_DIR
    answers GET /health (and [] elsewhere). Each start counts itself in STATE_DIR/starts, writes
    its pid to STATE_DIR/pid-N, and does what word N of STATE_DIR/plan says: `serve`, `fail`
    (print a line and exit 3), or `hold` (wait for STATE_DIR/release, then serve).
python stub_service.py media PORT FRAMES
    a media socket that takes FRAMES messages of a call, then dies the way a killed service does.
"""

from __future__ import annotations

import os
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        body = b'{"status": "ok"}' if self.path == "/health" else b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the http.server name
        pass


def http(host: str, port: int, state: Path) -> None:
    counter = state / "starts"
    n = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(n))
    (state / f"pid-{n}").write_text(str(os.getpid()))
    plan = (state / "plan").read_text().split() if (state / "plan").exists() else []
    what = plan[n - 1] if n <= len(plan) else "serve"
    if what == "fail":
        print(f"stub service: start {n} fails on purpose", flush=True)
        sys.exit(3)
    if what == "hold":
        print(f"stub service: start {n} waits for the test", flush=True)
        while not (state / "release").exists():
            time.sleep(0.05)
    server = HTTPServer((host, port), Health)
    print(f"stub service: start {n} serves on {port}", flush=True)
    server.serve_forever()


def media(port: int, frames: int) -> None:
    from websockets.sync.server import serve

    def handler(ws) -> None:  # noqa: ANN001
        for n, _ in enumerate(ws, 1):
            if n >= frames:
                print(f"stub media: dying after {n} messages", flush=True)
                os._exit(1)

    with serve(handler, "127.0.0.1", port) as server:
        print("stub media: ready", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "http":
        http(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
    else:
        media(int(sys.argv[2]), int(sys.argv[3]))
