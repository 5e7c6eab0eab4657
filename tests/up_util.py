"""Running `assistant up` in tests: free ports, a start that waits for its URLs, and a Ctrl-C stop that
checks no process is left behind (tests only)."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A free port below the kernel's ephemeral range. A port from bind(0) is in that range, where any
    outgoing connection (the health checks of `up` itself, the browser) can take it before the child
    that was meant to listen there has started."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    for _ in range(200):
        port = random.randrange(20000, max(low, 20001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and the ephemeral range")


class Up:
    """A running `assistant up`: its process and every line it has printed so far."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = threading.Condition()
        # Drain the pipe for the whole run: `up` must never block on a full one.
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.lines.append("")  # EOF marker so waiters wake up
            self._changed.notify_all()

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float, start: int = 0) -> str:
        """The first line from `start` on that contains `text`; fails when `up` exits or time runs out."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if text in line:
                        return line
                if self.proc.poll() is not None and self.lines and self.lines[-1] == "":
                    raise AssertionError(
                        f"`up` exited ({self.proc.returncode}) before {text!r}:\n{self.output()}"
                    )
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {text!r} from `up` within {timeout:.0f} s:\n{self.output()}")
                self._changed.wait(min(left, 0.5))

    def children(self) -> list[int]:
        """Process ids of the children of `up`."""
        found = []
        for pid in session_pids(self.proc.pid):
            if pid != self.proc.pid and _stat(pid)[1] == str(self.proc.pid):
                found.append(pid)
        return found


def start_up(args: list[str], env: dict[str, str], python: list[str] | None = None) -> Up:
    """`assistant up ARGS` as a new user runs it from a script: no terminal (stdin is /dev/null), no
    display, and in a session of its own so Ctrl-C can go to its whole process group."""
    env = {k: v for k, v in env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cmd = [sys.executable, *(python or ["-m", "assistant"]), "up", *args]
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Up(proc)


def _stat(pid: int) -> list[str]:
    """Fields of /proc/PID/stat after the command name: state, ppid, pgrp, session, ..."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ["", "", "", ""]


def session_pids(sid: int) -> list[int]:
    """Live (not zombie) processes in session `sid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields[3] == str(sid) and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def stop_up(up: Up, timeout: float = 30.0) -> None:
    """Ctrl-C (SIGINT to the process group), then check `up` exited 0 and left no process behind."""
    if up.proc.poll() is None:
        os.killpg(up.proc.pid, signal.SIGINT)
    try:
        up.proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(up.proc.pid, signal.SIGKILL)
        up.proc.wait()
        raise AssertionError(f"`up` did not stop within {timeout:.0f} s of Ctrl-C:\n{up.output()}") from None
    left = session_pids(up.proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes left after Ctrl-C: {left}\n{up.output()}"
    assert up.proc.returncode == 0, f"Ctrl-C stops both processes cleanly:\n{up.output()}"
