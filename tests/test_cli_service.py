"""The CLI while the service runs (issue 16): DuckDB lets one process open the file, so `digest`,
`feedback`, `ingest`, `calls list` and the nightly digest job go through the service that owns it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import REPO
from service_util import wait_healthy

from assistant import config
from assistant.service.client import STATE_FILE, running_service, write_service_state

PORT = 18931


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=timeout
    )


def test_a_stale_state_file_means_no_service(isolated_home: Path) -> None:
    assert running_service() is None  # no file
    write_service_state("http://127.0.0.1:18932", None, config.get().db)
    assert running_service() is None  # this process answers nothing on that port
    state = json.loads((isolated_home / STATE_FILE).read_text())
    (isolated_home / STATE_FILE).write_text(json.dumps({**state, "pid": 2**22 + 12345}))
    assert running_service() is None  # its process is gone
    assert running_service(str(isolated_home / "other.duckdb")) is None  # another database


@pytest.mark.models
def test_cli_goes_through_the_running_service(isolated_home: Path, tmp_path: Path) -> None:
    src = tmp_path / "calls.jsonl"
    lines = [
        {
            "call_id": f"k{n}",
            "started_at": "2026-11-20T10:00:00Z",
            "channel": "chat",
            "utterances": [
                {"speaker": "agent", "text": "State services, how can I help?"},
                {"speaker": "caller", "text": "I lost my food benefits card and need a new one."},
            ],
        }
        for n in range(3)
    ]
    src.write_text("".join(json.dumps(x) + "\n" for x in lines))
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(PORT), "--no-warm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{PORT}", server)
        assert (isolated_home / STATE_FILE).is_file()

        ingested = cli("ingest", str(src))
        assert ingested.returncode == 0, ingested.stderr
        assert "3 stored" in ingested.stdout
        again = cli("ingest", str(src))
        assert "0 stored, 3 already stored" in again.stdout

        listed = cli("calls", "list", "--json", "--limit", "2")
        assert listed.returncode == 0, listed.stderr
        assert len(json.loads(listed.stdout)) == 2 and "more calls: --cursor" in listed.stderr
        cursor = listed.stderr.split("--cursor", 1)[1].split()[0]
        rest = cli("calls", "list", "--json", "--cursor", cursor)
        assert len(json.loads(rest.stdout)) == 1

        admin = {"Authorization": f"Bearer {(isolated_home / 'admin.key').read_text().strip()}"}
        # The media socket takes no per-message deflate, though a client offers it (as this
        # one does by default): 50 small audio frames a second per track barely compress.
        from websockets.sync.client import connect

        with connect(f"ws://127.0.0.1:{PORT}/media", additional_headers=admin) as media:
            assert media.response.status_code == 101
            assert "Sec-WebSocket-Extensions" not in media.response.headers
        shown = httpx.get(f"http://127.0.0.1:{PORT}/calls/k0", headers=admin).json()
        sid = shown["suggestions"][0]["suggestion_id"]
        fed = cli("feedback", "k0", sid, "--helpful", "--comment", "good one")
        assert fed.returncode == 0 and "recorded helpful" in fed.stdout, fed.stderr
        wrong = cli("feedback", "k0", "nope:0", "--helpful")
        assert wrong.returncode == 2 and "no suggestion" in wrong.stderr and "in use" not in wrong.stderr

        digest = cli("digest", "--date", "2026-11-20", "--json")
        assert digest.returncode == 0, digest.stderr
        assert json.loads(digest.stdout)["total_calls"] == 3
        nightly = subprocess.run(
            [sys.executable, str(REPO / "pipelines" / "daily_digest.py"), "--date", "2026-11-20"],
            capture_output=True,
            text=True,
            timeout=600,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        assert nightly.returncode == 0, nightly.stderr
        assert "3 calls" in nightly.stdout or "3" in nightly.stdout
    finally:
        server.terminate()
        server.wait(60)
    assert not (isolated_home / STATE_FILE).exists()
    # With the service stopped, the CLI opens the file itself again.
    assert len(json.loads(cli("calls", "list", "--json").stdout)) == 3


def test_serve_caps_malloc_arenas_unless_the_environment_sets_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import platform

    from assistant.commands.serve import cap_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert cap_malloc_arenas() is (platform.libc_ver()[0] == "glibc")
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")  # an operator's own setting is left to glibc
    assert cap_malloc_arenas() is False


@pytest.mark.models
def test_every_call_command_works_beside_the_running_service(isolated_home: Path, tmp_path: Path) -> None:
    """Issue 30 item 8: `calls show`, `process-call` and `demo` go through the service's API with the
    local admin key (they said "database in use" before); `calls list --limit 10000` is the top of
    the allowed range, not an error."""
    from up_util import free_port

    sample = REPO / "samples" / "call-es-license.wav"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--no-warm"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        processed = cli("process-call", str(sample), "--call-id", "p1", "--language", "es", "--json")
        assert processed.returncode == 0, processed.stderr
        data = json.loads(processed.stdout)
        assert data["call_id"] == "p1" and data["language"] == "es"
        assert "in use" not in processed.stderr

        shown = cli("calls", "show", "p1", "--json")
        assert shown.returncode == 0, shown.stderr
        detail = json.loads(shown.stdout)
        assert detail["call_id"] == "p1" and detail["utterances"], detail
        text = cli("calls", "show", "p1")
        assert text.returncode == 0 and text.stdout.startswith("call p1 "), text.stderr
        missing = cli("calls", "show", "no-such-call")
        assert missing.returncode == 2 and "no stored call with id 'no-such-call'" in missing.stderr

        demo = cli("demo", str(sample))
        assert demo.returncode == 0, demo.stderr
        assert "Stored (redacted) by the running service" in demo.stdout

        listed = cli("calls", "list", "--limit", "10000", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {r["call_id"] for r in json.loads(listed.stdout)} >= {"p1"}
        too_many = cli("calls", "list", "--limit", "10001")
        assert too_many.returncode == 2 and "between 1 and 10000, got 10001" in too_many.stderr
        bad = cli("process-call", str(tmp_path / "absent.wav"))
        assert bad.returncode == 2 and "no recording" in bad.stderr
    finally:
        server.terminate()
        server.wait(60)
    # Stopped: the same commands open the file themselves and see what the service stored.
    assert json.loads(cli("calls", "show", "p1", "--json").stdout)["call_id"] == "p1"
    assert cli("calls", "list", "--limit", "10000").returncode == 0
