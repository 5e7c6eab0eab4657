"""`assistant up`: the service and the console together, on the bundled models and sample data.

Starts `assistant serve` and `streamlit run streamlit_app.py` as two child processes, waits until
both answer their health checks, prints the URLs, opens a browser when there is a display, and stops
both on Ctrl-C (or SIGTERM, or the terminal closing). `--fake` runs the console alone on in-memory
sample data (no service, no models): for a quick look and for the browser test.

Neither child ever waits on input: their stdin is /dev/null, and Streamlit always runs headless, so a
first-time user is not asked for an e-mail address and nothing is written into ~/.streamlit. Each
child's output goes to a log file under `<home>/logs/` and a buffer of its last lines, so when a
child dies `up` says which one and shows why. A service that dies is started again (with a growing
pause) while the console stays up and shows its "Service down" banner; a console that dies stops
everything.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from assistant import config
from assistant.config import REPO_ROOT
from assistant.errors import AssistantError, InputError
from assistant.identity.accounts import DEMO_ACCOUNTS_FILE, read_demo_accounts

SERVICE_WAIT = 180.0  # the service loads Whisper and the embedder before it answers /health
CONSOLE_WAIT = 60.0
TAIL_LINES = 20  # lines of a dead child's output that `up` prints
RESTART_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # pause before the 1st, 2nd, ... restart in a row
MAX_FAILED_RESTARTS = 5  # restarts in a row that never answered /health: then `up` gives up
STABLE_AFTER = 60.0  # a service that answered and ran this long starts the pauses from the first again
POLL = 0.5


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("up", help="start the service and the console (Ctrl-C stops both)")
    p.add_argument("--port", type=int, default=8501, help="console port (default 8501)")
    p.add_argument("--service-port", type=int, default=8700, help="service port (default 8700)")
    p.add_argument("--host", default="127.0.0.1", help="address both listen on (default 127.0.0.1)")
    p.add_argument(
        "--no-browser",
        action="store_true",
        help="do not open a browser window (none opens without a display)",
    )
    p.add_argument(
        "--fake", action="store_true", help="console only, on in-memory sample data (no service, no models)"
    )
    p.set_defaults(func=run)


def _check_port(host: str, port: int, what: str) -> None:

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


def service_command(host: str, port: int) -> list[str]:
    """The service's command line (tests replace it with a stand-in that starts at once). On this
    machine only, the service makes a demo account per role for a first try."""
    demo = ["--demo-accounts"] if host in ("127.0.0.1", "localhost", "::1") else []
    return [sys.executable, "-m", "assistant", "serve", "--host", host, "--port", str(port), *demo]


def demo_accounts_text(fake: bool) -> str | None:
    """What `up` says about signing in: the fake's demo accounts, or the service's demo accounts
    (`<home>/demo-accounts.txt`, written when they were made); None when there are none."""
    if fake:
        return "Sign in as demo-agent, demo-supervisor, demo-knowledge-manager or demo-admin, password demo."
    found = read_demo_accounts()
    if not found:
        return None
    accounts = "\n".join(f"  {name:<24} password {password}" for name, password in found)
    path = Path(config.get().home) / DEMO_ACCOUNTS_FILE
    return f"Demo accounts, one per role (this machine only; also in {path}):\n{accounts}"


def console_command(host: str, port: int) -> list[str]:
    """Streamlit, always headless: no e-mail prompt, no browser of its own (`up` opens one)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(REPO_ROOT / "console_server.py"),
        "--server.port", str(port), "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--server.runOnSave", "false",
    ]  # fmt: skip


def has_display() -> bool:
    """Whether a browser window can be shown (on Linux and BSD: an X11 or Wayland display)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class Child:
    """One child process. Its stdout and stderr go, line by line, to a log file and to a buffer of
    its last lines; a reader thread drains the pipe so the child never blocks on a full one."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.log_path = log_path
        self.tail: collections.deque[str] = collections.deque(maxlen=200)
        self.proc: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.tail.clear()
        log = self.log_path.open("ab" if self.starts > 1 else "wb")  # one run of `up` per file
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"--- {stamp} assistant up: starting the {self.name} ({self.starts})\n".encode())
        log.flush()
        # cwd = the repo, so Streamlit reads the theme in .streamlit/config.toml.
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert self.proc.stdout is not None
        self._reader = threading.Thread(
            target=self._read, args=(self.proc.stdout, log), name=f"up-{self.name}-output", daemon=True
        )
        self._reader.start()

    def _read(self, pipe: IO[bytes], log: IO[bytes]) -> None:
        with log, pipe:
            for raw in iter(pipe.readline, b""):
                log.write(raw)
                log.flush()
                self.tail.append(raw.decode("utf-8", "replace").rstrip())

    def poll(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def exit_report(self, when: str = "", then: str = "") -> str:
        """Which child stopped, how, what `up` does about it, and the child's last lines of output."""
        assert self.proc is not None and self.proc.returncode is not None
        if self._reader is not None:
            self._reader.join(timeout=2)  # the last lines are still in the pipe
        code = self.proc.returncode
        how = f"exit code {code}"
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        lines = [line for line in self.tail if line.strip()][-TAIL_LINES:]
        text = f"the {self.name} stopped{when} ({how}){then}"
        if lines:
            text += "; its last output:\n" + "\n".join(f"  | {line}" for line in lines)
        else:
            text += "; it printed nothing"
        return text + f"\n  full log: {self.log_path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()

    def wait_stopped(self, seconds: float = 10.0) -> None:
        if self.proc is None:
            return
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=2)


def _healthy(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_http(url: str, child: Child, seconds: float, started: list[Child]) -> None:
    """Wait until `child` answers `url`; any started child that dies meanwhile is an error."""

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for c in started:
            if c.poll() is not None:
                raise AssistantError(c.exit_report(" during start-up"))
        if _healthy(url):
            return
        time.sleep(POLL)
    raise AssistantError(
        f"the {child.name} did not answer {url} within {seconds:.0f} s (log: {child.log_path})"
    )


class ServiceKeeper:
    """Starts the service again after it dies. The pause before a restart grows with each restart
    since the service last ran for `STABLE_AFTER` s; after `MAX_FAILED_RESTARTS` restarts in a row
    that never answered /health, it gives up."""

    def __init__(self, child: Child, health_url: str) -> None:
        self.child = child
        self.health_url = health_url
        self.restarts = 0  # since the service last ran STABLE_AFTER s: picks the pause
        self.failures = 0  # restarts in a row that never answered /health
        self.restart_at: float | None = None  # when to start it again; None while it runs
        self.starting_since: float | None = None  # started again, not answering yet
        self.up_since = time.monotonic()

    def tick(self, now: float) -> str | None:
        """Look after the service once; returns an error message when `up` should give up."""
        if self.restart_at is not None:
            if now >= self.restart_at:
                self.restart_at = None
                self.starting_since = now
                self.child.start()
            return None
        if self.child.poll() is not None:
            print(f"warning: {self.child.exit_report()}", file=sys.stderr, flush=True)
            return self._schedule(now)
        if self.starting_since is not None:
            if _healthy(self.health_url):
                self.starting_since = None
                self.failures = 0
                self.up_since = now
                print(f"The service is back: {self.health_url.removesuffix('/health')}", flush=True)
            elif now - self.starting_since > SERVICE_WAIT:
                print(
                    f"warning: the service did not answer within {SERVICE_WAIT:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
                self.child.stop()
                self.child.wait_stopped()
                return self._schedule(now)
        return None

    def _schedule(self, now: float) -> str | None:
        if self.starting_since is not None:  # this restart never answered
            self.failures += 1
            if self.failures >= MAX_FAILED_RESTARTS:
                return (
                    f"the service failed to start again {self.failures} times in a row; stopping the console"
                )
        elif now - self.up_since >= STABLE_AFTER:
            self.restarts = 0
        delay = RESTART_DELAYS[min(self.restarts, len(RESTART_DELAYS) - 1)]
        self.restarts += 1
        self.starting_since = None
        self.restart_at = now + delay
        print(
            f"Restarting the service in {delay:.0f} s; meanwhile the console shows 'Service down'.",
            file=sys.stderr,
            flush=True,
        )
        return None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _open_browser(url: str) -> None:
    import webbrowser

    try:
        webbrowser.open(url, new=2)
    except Exception as exc:  # noqa: BLE001 - a missing browser must not stop the product
        print(f"(could not open a browser: {exc}; open {url} yourself)", flush=True)


def run(args: argparse.Namespace) -> int:

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
    # Unbuffered, so a child that dies has flushed its last lines into the pipe.
    env = dict(os.environ, ASSISTANT_SERVICE_URL=service_url, PYTHONUNBUFFERED="1")
    if args.fake:
        env["ASSISTANT_CONSOLE_FAKE"] = "1"
    logs = Path(config.get().home) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    service = Child(
        "service",
        service_command(args.host, args.service_port),
        env,
        logs / f"service-{args.service_port}.log",
    )
    console = Child("console", console_command(args.host, args.port), env, logs / f"console-{args.port}.log")

    # SIGTERM (a supervisor, a test) and a closed terminal stop both children the way Ctrl-C does.
    stops = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    before = {sig: signal.getsignal(sig) for sig in stops}
    for sig in stops:
        signal.signal(sig, _interrupt)
    started: list[Child] = []
    try:
        # Both start at once: the console is up long before the service has loaded its models.
        if not args.fake:
            print(f"Starting the service on {service_url} (loading models) ...", flush=True)
            started.append(service)
            service.start()
        print("Starting the console ...", flush=True)
        started.append(console)
        console.start()
        keeper = None
        if not args.fake:
            _wait_http(f"{service_url}/health", service, SERVICE_WAIT, started)
            keeper = ServiceKeeper(service, f"{service_url}/health")
        _wait_http(f"{console_url}/_stcore/health", console, CONSOLE_WAIT, started)
        print(f"Console: {console_url}", flush=True)
        print(
            "Service: (none: --fake, sample data in memory)" if args.fake else f"Service: {service_url}",
            flush=True,
        )
        print(f"Logs: {logs}", flush=True)
        accounts = demo_accounts_text(args.fake)
        if accounts:
            print(accounts, flush=True)
        if not args.no_browser and has_display():
            _open_browser(console_url)
        print("Press Ctrl-C to stop.", flush=True)
        while True:
            time.sleep(POLL)
            if console.poll() is not None:
                then = "" if args.fake else "; stopping the service"
                print(f"error: {console.exit_report(then=then)}", file=sys.stderr, flush=True)
                return 1
            if keeper is not None:
                error = keeper.tick(time.monotonic())
                if error:
                    print(f"error: {error}", file=sys.stderr, flush=True)
                    return 1
    except KeyboardInterrupt:
        print("Stopping ...", flush=True)
        return 0
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave a child running.
        for sig in stops:
            signal.signal(sig, signal.SIG_IGN)
        for child in started:
            child.stop()
        for child in started:
            child.wait_stopped()
        for sig, handler in before.items():
            signal.signal(sig, handler)
