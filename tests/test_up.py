"""`assistant up` as a first-time user runs it, and what it does when a child dies; `simulate-call`
when the service dies.

Each `up` here runs as a subprocess with a fresh, empty HOME, no terminal (stdin is /dev/null), no
display and no flag but the ports, and is stopped with Ctrl-C to its whole process group. The real
console (Streamlit) runs; the service is a stand-in that starts at once (tests/stub_service.py), so
these tests load no model. `up` on the real service is the browser test's `real_up` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from up_util import ROOT, free_port, session_pids, start_up, stop_up

STUB = Path(__file__).resolve().parent / "stub_service.py"
CHROMIUM = Path("/usr/bin/chromium")
# `assistant up ARGS` with the service replaced by the stand-in: argv is STATE_DIR up ARGS...
WITH_STUB = (
    "import sys\n"
    "from assistant.commands import up\n"
    "state = sys.argv[1]\n"
    f"up.service_command = lambda host, port: [sys.executable, {str(STUB)!r}, 'http', host, str(port), state]\n"
    "from assistant.cli import main\n"
    "raise SystemExit(main(sys.argv[2:]))\n"
)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def fresh(tmp_path: Path, isolated_home: Path) -> dict:
    """A first-time user's environment (empty HOME and ASSISTANT_HOME), two ports and a stub state dir."""
    home = tmp_path / "user-home"
    home.mkdir()
    state = tmp_path / "stub-state"
    state.mkdir()
    env = {**os.environ, "HOME": str(home)}
    return {"env": env, "home": home, "state": state, "console": free_port(), "service": free_port()}


def _up_with_stub(fresh: dict, plan: str):  # noqa: ANN202
    (fresh["state"] / "plan").write_text(plan)
    ports = ["--port", str(fresh["console"]), "--service-port", str(fresh["service"])]
    return start_up(ports, fresh["env"], python=["-c", WITH_STUB, str(fresh["state"])])


def _wait_file(path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.05)


def _service_down_banner(url: str) -> str:
    """The console's page text once it shows its "Service down" banner ("" without a browser)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return ""
    if not CHROMIUM.exists():
        return ""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless", "--no-sandbox"])
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("Service down.").first.wait_for(timeout=30_000)
            return page.inner_text("main")
        finally:
            browser.close()


def test_up_restarts_a_dead_service_while_the_console_stays_up(fresh: dict, isolated_home: Path) -> None:
    state = fresh["state"]
    console = f"http://127.0.0.1:{fresh['console']}"
    service = f"http://127.0.0.1:{fresh['service']}"
    up = _up_with_stub(fresh, "serve fail hold")
    try:
        up.wait_for("Console: ", 90)
        assert _healthy(f"{service}/health") and _healthy(f"{console}/_stcore/health")
        mark = len(up.lines)

        os.kill(int((state / "pid-1").read_text()), signal.SIGKILL)
        up.wait_for("warning: the service stopped (killed by SIGKILL); its last output:", 15, mark)
        up.wait_for(f"| stub service: start 1 serves on {fresh['service']}", 5, mark)
        up.wait_for("Restarting the service in 1 s; meanwhile the console shows 'Service down'.", 5, mark)
        # The first restart fails: `up` says so with that start's own output, and waits longer.
        up.wait_for("warning: the service stopped (exit code 3); its last output:", 20, mark)
        up.wait_for("| stub service: start 2 fails on purpose", 5, mark)
        up.wait_for("Restarting the service in 2 s", 5, mark)
        # The second restart is held back by the test: the service is down, the console is not.
        _wait_file(state / "pid-3", 20)
        assert not _healthy(f"{service}/health")
        assert _healthy(f"{console}/_stcore/health"), up.output()
        page = _service_down_banner(console)
        assert not page or "cannot reach the assistant service" in page, page
        assert up.proc.poll() is None

        (state / "release").touch()
        up.wait_for(f"The service is back: {service}", 30, mark)
        assert _healthy(f"{service}/health") and _healthy(f"{console}/_stcore/health")
    finally:
        stop_up(up)
    log = (isolated_home / "logs" / f"service-{fresh['service']}.log").read_text()
    for n in (1, 2, 3):
        assert f"stub service: start {n}" in log, log
    assert list(fresh["home"].iterdir()) == [], "nothing is written into the user's HOME (~/.streamlit)"


def test_up_names_the_console_when_it_dies_and_stops_the_service(fresh: dict) -> None:
    up = _up_with_stub(fresh, "serve")
    try:
        up.wait_for("Console: ", 90)
        streamlit = [p for p in up.children() if b"streamlit" in Path(f"/proc/{p}/cmdline").read_bytes()]
        assert len(streamlit) == 1, up.children()
        os.kill(streamlit[0], signal.SIGKILL)
        assert up.proc.wait(timeout=30) == 1, up.output()
    finally:
        if up.proc.poll() is None:
            stop_up(up)
    up.wait_for("error: the console stopped (killed by SIGKILL); stopping the service", 5)
    up.wait_for("Streamlit app", 5)  # its last lines, as it printed them
    up.wait_for(f"full log: {Path(os.environ['ASSISTANT_HOME']) / 'logs'}", 5)
    assert session_pids(up.proc.pid) == [], "the service was stopped too"


def test_up_names_the_service_and_its_last_lines_when_it_cannot_start(fresh: dict) -> None:
    up = _up_with_stub(fresh, "fail")
    assert up.proc.wait(timeout=90) == 2, up.output()
    up.wait_for("error: the service stopped during start-up (exit code 3); its last output:", 5)
    up.wait_for("  | stub service: start 1 fails on purpose", 5)
    up.wait_for(f"full log: {os.environ['ASSISTANT_HOME']}/logs/service-{fresh['service']}.log", 5)
    assert session_pids(up.proc.pid) == [], "the console was stopped too"


# ---------------------------------------------------------------- the restart policy


class FakeChild:
    name = "service"

    def __init__(self) -> None:
        self.code: int | None = None
        self.starts = 0

    def poll(self) -> int | None:
        return self.code

    def start(self) -> None:
        self.starts += 1
        self.code = None

    def exit_report(self, when: str = "") -> str:
        return f"the service stopped{when} (exit code {self.code})"

    def stop(self) -> None:
        pass

    def wait_stopped(self) -> None:
        pass


def test_service_restarts_wait_longer_each_time_and_give_up_after_failed_starts(monkeypatch, capsys):
    from assistant.commands import up

    answering = {"now": False}
    monkeypatch.setattr(up, "_healthy", lambda url: answering["now"])
    child = FakeChild()
    keeper = up.ServiceKeeper(child, "http://127.0.0.1:1/health")  # type: ignore[arg-type]
    t = keeper.up_since + 5.0

    def die_and_restart() -> float:
        """The child dies; returns the pause before `up` starts it again."""
        nonlocal t
        child.code = 1
        assert keeper.tick(t) is None
        pause = keeper.restart_at - t
        before = child.starts
        t = keeper.restart_at
        assert keeper.tick(t) is None and child.starts == before + 1
        return pause

    assert die_and_restart() == 1.0
    answering["now"] = True
    t += 1
    keeper.tick(t)
    assert "The service is back: http://127.0.0.1:1" in capsys.readouterr().out
    # It answered, but died again soon after: the next pause is longer.
    t += 10
    assert die_and_restart() == 2.0
    keeper.tick(t + 1)
    # After a run of STABLE_AFTER s, a death starts again from the first pause.
    t += up.STABLE_AFTER + 5
    assert die_and_restart() == 1.0
    # Restarts that never answer: longer pauses, then `up` gives up.
    answering["now"] = False
    pauses = []
    for _ in range(up.MAX_FAILED_RESTARTS - 1):
        child.code = 3
        assert keeper.tick(t) is None
        pauses.append(keeper.restart_at - t)
        t = keeper.restart_at
        keeper.tick(t)
    assert pauses == [2.0, 4.0, 8.0, 16.0]
    child.code = 3
    assert keeper.tick(t) == "the service failed to start again 5 times in a row; stopping the console"


# ---------------------------------------------------------------- simulate-call


def _simulate(url: str) -> subprocess.CompletedProcess[str]:
    sample = ROOT / "samples" / "call-en-benefits.wav"
    cmd = [sys.executable, "-m", "assistant", "simulate-call", str(sample), "--url", url, "--no-realtime"]
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def test_simulate_call_says_so_when_the_service_dies_mid_call() -> None:
    port = free_port()
    stub = subprocess.Popen(
        [sys.executable, str(STUB), "media", str(port), "40"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert stub.stdout is not None and stub.stdout.readline().strip() == "stub media: ready"
        url = f"ws://127.0.0.1:{port}/media"
        run = _simulate(url)
        assert stub.wait(timeout=30) == 1, "the stand-in service died mid-call"
    finally:
        if stub.poll() is None:
            stub.kill()
            stub.wait()
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert f"error: the connection to {url} broke during call sim-" in run.stderr, run.stderr
    assert "the service stopped or was stopped" in run.stderr


def test_simulate_call_without_a_service_says_so() -> None:
    url = f"ws://127.0.0.1:{free_port()}/media"
    run = _simulate(url)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert f"error: cannot connect to {url}" in run.stderr, run.stderr
