"""Data lifecycle and files (issue 29, items 2, 8, 9, 11): what the CLI writes is its user's only,
`/health` does not call a healthy file truncated, `retention apply` on the CLI reaches the running
service with its own days, and a deleted call leaves nothing in the digests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes import fake_processor
from service_util import AuthedClient, make_app, wait_healthy

from assistant import storage
from assistant.cli import main
from assistant.storage import CallRecord, UtteranceRecord

REPO = Path(__file__).resolve().parent.parent


def cli(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, started with the usual umask 022."""
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args],
        capture_output=True, text=True, timeout=120, input=stdin, umask=0o022, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )  # fmt: skip


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# ---------------------------------------------------------------- item 11: files the CLI writes


def test_users_add_makes_a_private_database_and_folder(tmp_path: Path, isolated_home: Path) -> None:
    db = tmp_path / "new" / "users.duckdb"
    made = cli("users", "add", "ana", "--role", "admin", "--db", str(db))
    assert made.returncode == 0, made.stderr
    assert mode(db) == 0o600 and mode(db.parent) == 0o700


def test_a_database_made_loose_before_is_tightened_on_open(tmp_path: Path, isolated_home: Path) -> None:
    db = tmp_path / "old.duckdb"
    storage.open_db(db).close()
    db.chmod(0o644)
    listed = cli("users", "list", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert mode(db) == 0o600


def test_the_wal_of_an_ingest_without_the_service_is_private(
    tmp_path: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import assistant.batch.run as batch

    src = tmp_path / "calls.jsonl"
    utterances = [{"speaker": "caller", "text": "I lost my food benefits card and need a new one."}]
    src.write_text(
        json.dumps(
            {
                "call_id": "c1",
                "started_at": "2026-11-21T09:00:00Z",
                "channel": "chat",
                "utterances": utterances,
            }
        )
        + "\n"
    )
    db = tmp_path / "ingest.duckdb"
    seen: list[int] = []
    real_save, real_ingest = storage.save_call, batch.ingest

    def save_and_look(con, record):  # noqa: ANN001, ANN202
        out = real_save(con, record)
        seen.append(mode(Path(f"{db}.wal")))  # the WAL holds the transcript until the checkpoint
        return out

    monkeypatch.setattr(storage, "save_call", save_and_look)
    monkeypatch.setattr(batch, "ingest", lambda s, d, **kw: real_ingest(s, d, processor=fake_processor()))
    before = os.umask(0o022)
    try:
        assert main(["ingest", str(src), "--db", str(db)]) == 0
        assert os.umask(0o022) == 0o022  # main gives the caller its umask back
    finally:
        os.umask(before)
    assert seen == [0o600] and mode(db) == 0o600


# ---------------------------------------------------------------- item 8: /health on a healthy file


def test_health_is_ok_after_seven_users_added_by_the_cli(tmp_path: Path, isolated_home: Path) -> None:
    db = tmp_path / "svc.duckdb"  # the file make_app's service opens
    for n in range(7):
        added = cli("users", "add", f"user{n}", "--role", "agent", "--db", str(db))
        assert added.returncode == 0, added.stderr
    with AuthedClient(make_app(tmp_path)) as c:
        answer = c.get("/health")
        assert answer.status_code == 200, answer.json()
        assert answer.json()["database"] == {"path": str(db), "ok": True, "error": None}


# ---------------------------------------------------------------- item 9: retention through the service


def _call(call_id: str, started: datetime, text: str = "I lost my card.") -> CallRecord:
    utterance = UtteranceRecord("caller", 0.0, 1.0, text)
    return CallRecord(call_id=call_id, started_at=started, channel="chat", source="t",
                      outcome="resolved", status="complete", utterances=(utterance,))  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retention_days_of_the_cli_reach_the_running_service(isolated_home: Path) -> None:
    now = datetime.now(UTC)
    con = storage.open_db(isolated_home / "assistant.duckdb")
    for call_id, age in (("old", 40), ("older", 31), ("recent", 29)):
        storage.save_call(con, _call(call_id, now - timedelta(days=age)))
    con.close()
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--no-warm"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
        # The service keeps calls 365 days; this command's environment asks for 30.
        dry = cli(
            "retention", "apply", "--dry-run", "--json", env={"ASSISTANT_RETENTION_TRANSCRIPT_DAYS": "30"}
        )
        assert dry.returncode == 0, dry.stderr
        report = json.loads(dry.stdout)
        assert report["transcript_days"] == 30 and report["audit_days"] == 730  # the service's own
        assert sorted(report["call_ids"]) == ["old", "older"]
        # The option wins over the environment.
        flagged = cli("retention", "apply", "--transcript-days", "35", "--json",
                      env={"ASSISTANT_RETENTION_TRANSCRIPT_DAYS": "30"})  # fmt: skip
        assert flagged.returncode == 0, flagged.stderr
        assert json.loads(flagged.stdout)["call_ids"] == ["old"]
        listed = json.loads(cli("calls", "list", "--json").stdout)
        assert sorted(r["call_id"] for r in listed) == ["older", "recent"]
        for bad, text in (
            (["--transcript-days", "-1"], "--transcript-days must be a whole number of days >= 0"),
            (["--audit-days", "x"], "invalid int value"),
        ):
            refused = cli("retention", "apply", *bad)
            assert refused.returncode == 2 and text in refused.stderr, refused.stderr
        refused = cli("retention", "apply", env={"ASSISTANT_RETENTION_TRANSCRIPT_DAYS": "-3"})
        assert refused.returncode == 2 and "ASSISTANT_RETENTION_TRANSCRIPT_DAYS" in refused.stderr
        assert len(json.loads(cli("calls", "list", "--json").stdout)) == 2  # nothing more deleted
    finally:
        server.terminate()
        server.wait(30)
