"""`assistant up`: the service and the console together, on the bundled models and sample data.

Starts `assistant serve` and `streamlit run streamlit_app.py` as two child processes, waits until
both answer their health checks, prints the URLs, and stops both on Ctrl-C (or SIGTERM).
`--fake` runs the console alone on in-memory sample data (no service, no models): for a quick look
and for the browser test.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence

from assistant.config import REPO_ROOT

SERVICE_WAIT = 180.0  # the service loads Whisper and the embedder before it answers /health
CONSOLE_WAIT = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("up", help="start the service and the console (Ctrl-C stops both)")
    p.add_argument("--port", type=int, default=8501, help="console port (default 8501)")
    p.add_argument("--service-port", type=int, default=8700, help="service port (default 8700)")
    p.add_argument("--host", default="127.0.0.1", help="address both listen on (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument(
        "--fake", action="store_true", help="console only, on in-memory sample data (no service, no models)"
    )
    p.set_defaults(func=run)


def _check_port(host: str, port: int, what: str) -> None:
    from assistant.errors import InputError

    if not 1 <= port <= 65535:
        raise InputError(f"{what} port {port} is not between 1 and 65535")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            flag = "--port" if what == "console" else "--service-port"
            raise InputError(
                f"{what} port {port} on {host} is already in use (choose another with {flag})"
            ) from None


def serve_available() -> bool:
    """Whether the `assistant serve` command is installed (assistant/commands/serve.py)."""
    return importlib.util.find_spec("assistant.commands.serve") is not None


def _wait_http(url: str, proc: subprocess.Popen, seconds: float, what: str) -> None:
    import httpx

    from assistant.errors import AssistantError

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssistantError(
                f"the {what} stopped during start-up (exit code {proc.returncode}); see its output above"
            )
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssistantError(f"the {what} did not answer {url} within {seconds:.0f} s")


def _stop(procs: Sequence[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from assistant.errors import InputError

    if not args.fake and not serve_available():
        raise InputError(
            "'assistant serve' is not available in this installation (assistant/commands/serve.py is missing)",
            hint="run the console alone on sample data with 'assistant up --fake'",
        )
    _check_port(args.host, args.port, "console")
    if not args.fake:
        _check_port(args.host, args.service_port, "service")
    service_url = f"http://{args.host}:{args.service_port}"
    console_url = f"http://{args.host}:{args.port}"
    env = dict(os.environ, ASSISTANT_SERVICE_URL=service_url)
    if args.fake:
        env["ASSISTANT_CONSOLE_FAKE"] = "1"

    # SIGTERM (a supervisor, a test) stops both children the same way Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    procs: list[subprocess.Popen] = []
    try:
        if not args.fake:
            print(f"Starting the service on {service_url} (loading models) ...", flush=True)
            serve = [
                sys.executable,
                "-m",
                "assistant",
                "serve",
                "--host",
                args.host,
                "--port",
                str(args.service_port),
            ]
            procs.append(subprocess.Popen(serve, env=env, cwd=REPO_ROOT))
            _wait_http(f"{service_url}/health", procs[-1], SERVICE_WAIT, "service")
        print("Starting the console ...", flush=True)
        console = [
            sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "streamlit_app.py"),
            "--server.port", str(args.port), "--server.address", args.host,
            "--server.headless", "true" if args.no_browser else "false",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
        ]  # fmt: skip
        # cwd = the repo, so Streamlit reads the theme in .streamlit/config.toml.
        procs.append(subprocess.Popen(console, env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL))
        _wait_http(f"{console_url}/_stcore/health", procs[-1], CONSOLE_WAIT, "console")
        print(f"Console: {console_url}", flush=True)
        print(
            "Service: (none: --fake, sample data in memory)" if args.fake else f"Service: {service_url}",
            flush=True,
        )
        print("Press Ctrl-C to stop.", flush=True)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        dead = next(p for p in procs if p.poll() is not None)
        print(
            f"error: a child process stopped (exit code {dead.returncode}); stopping the other",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print("Stopping ...", flush=True)
        return 0
    finally:
        _stop(procs)
