"""Data lifecycle and files (issue 29, items 2, 8, 9, 11): what the CLI writes is its user's only,
`/health` does not call a healthy file truncated, `retention apply` on the CLI reaches the running
service with its own days, and a deleted call leaves nothing in the digests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fakes import FakeEmbedder, fake_processor
from privacy_scan import text_columns
from service_util import AuthedClient, make_app, wait_healthy
from up_util import free_port

from assistant import storage
from assistant.cli import main
from assistant.digest.build import run_digest
from assistant.digest.model import DigestOptions
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


def test_the_scheduler_jobs_write_private_files(tmp_path: Path, isolated_home: Path) -> None:
    db = tmp_path / "digest.duckdb"
    storage.open_db(db).close()
    db.chmod(0o644)  # made by an older version, or by hand
    job = subprocess.run(
        [sys.executable, str(REPO / "pipelines" / "daily_digest.py"), "--date", "2026-03-02", "--db", str(db)],
        capture_output=True, text=True, timeout=120, umask=0o022, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert job.returncode == 0, job.stderr
    assert mode(db) == 0o600


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


def test_retention_days_of_the_cli_reach_the_running_service(isolated_home: Path) -> None:
    now = datetime.now(UTC)
    con = storage.open_db(isolated_home / "assistant.duckdb")
    for call_id, age in (("old", 40), ("older", 31), ("recent", 29)):
        storage.save_call(con, _call(call_id, now - timedelta(days=age)))
    con.close()
    port = free_port()  # below the ephemeral range: no outgoing connection takes it first
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


# ---------------------------------------------------------------- item 2: deletion reaches the digests

VICTIM = "victim-call-7"
SECRET_WORD = "zebrastadt"  # only the victim's call says it


def _fill_day(con, day: date) -> None:  # noqa: ANN001
    start = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
    said = {
        VICTIM: "I lost my benefits card in Zebrastadt",
        "other-1": "I lost my benefits card on the bus today, please help me",
        "other-2": "I lost my benefits card at the shop yesterday, what now",
    }
    for n, (call_id, text) in enumerate(said.items()):
        call = _call(call_id, start + timedelta(minutes=n), text)
        storage.save_call(con, replace(call, reason=text, summary_text=f"Caller's reason: {text}"))


def _digest_of(con, day: date) -> None:  # noqa: ANN001
    run_digest(con, day, FakeEmbedder(), DigestOptions(min_topic_calls=2), backfill=False)
    stored = storage.get_digest(con, day)
    assert stored is not None and VICTIM in json.dumps(stored.payload)  # the digest names the call
    assert any(SECRET_WORD in q.lower() for t in stored.topics for q in t.quotes)  # and quotes it


def _database_with_a_digest(tmp_path: Path, day: date) -> Path:
    db = tmp_path / "cli.duckdb"
    con = storage.open_db(db)
    _fill_day(con, day)
    _digest_of(con, day)
    con.close()
    return db


def _found_anywhere(con, needle: str) -> list[str]:  # noqa: ANN001
    """Every table.column (each text, JSON or nested column of every table) holding `needle`."""
    return [
        f"{table}.{column}"
        for schema, table, column, _ in text_columns(con)
        if con.execute(
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE contains(lower(CAST("{column}" AS VARCHAR)), ?)',
            [needle.lower()],
        ).fetchone()[0]
    ]


def _nothing_left(con, day: date, *, remaining: list[str]) -> None:  # noqa: ANN001
    assert _found_anywhere(con, SECRET_WORD) == []
    # The audit log keeps who deleted which call (accountability); nothing else names it.
    assert _found_anywhere(con, VICTIM) in ([], ["audit_log.target"])
    lines = con.execute("SELECT action FROM audit_log WHERE contains(target, ?)", [VICTIM]).fetchall()
    assert {a for (a,) in lines} <= {"call.delete"}
    stored = storage.get_digest(con, day)
    assert stored is not None and stored.total_calls == 3  # the day's counts stay
    (topic,) = stored.payload["topics"]
    assert sorted(topic["call_ids"]) == remaining
    assert len(topic["quotes"]) == len(remaining)  # the quotes of the calls that remain stay
    assert [list(t.quotes) for t in stored.topics] == [topic["quotes"]]


def test_delete_call_through_the_api_leaves_nothing_in_the_digest(
    tmp_path: Path, isolated_home: Path
) -> None:
    day = date.today() - timedelta(days=3)
    with AuthedClient(make_app(tmp_path)) as c:
        con = c.app.state.hub.cursor()
        _fill_day(con, day)
        _digest_of(con, day)
        assert c.delete(f"/calls/{VICTIM}").status_code == 200
        served = c.get(f"/digests/{day}")
        assert served.status_code == 200 and VICTIM not in served.text
        assert SECRET_WORD not in served.text.lower() and "benefits card" in served.text
        exported = c.get(f"/digests/{day}/export", params={"format": "markdown"})
        assert exported.status_code == 200 and "> I lost my benefits card" in exported.text
        assert SECRET_WORD not in exported.text.lower()
        _nothing_left(con, day, remaining=["other-1", "other-2"])


def test_calls_delete_on_the_cli_leaves_nothing_in_the_digest(
    tmp_path: Path, isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = date.today() - timedelta(days=3)
    db = _database_with_a_digest(tmp_path, day)
    assert main(["calls", "delete", VICTIM, "--db", str(db)]) == 0
    assert main(["digest", "--date", str(day), "--stored", "--format", "markdown", "--db", str(db)]) == 0
    exported = capsys.readouterr().out
    assert "benefits card" in exported and SECRET_WORD not in exported.lower()
    con = storage.open_db(db)
    try:
        _nothing_left(con, day, remaining=["other-1", "other-2"])
    finally:
        con.close()


def test_retention_apply_leaves_no_quote_or_call_id_in_old_digests(
    tmp_path: Path, isolated_home: Path
) -> None:
    day = date.today() - timedelta(days=40)
    db = _database_with_a_digest(tmp_path, day)
    assert main(["retention", "apply", "--transcript-days", "30", "--db", str(db)]) == 0
    con = storage.open_db(db)
    try:
        assert _found_anywhere(con, SECRET_WORD) == []
        assert _found_anywhere(con, "benefits card") == []  # no quote of any deleted call
        assert all(_found_anywhere(con, c) == [] for c in (VICTIM, "other-1", "other-2"))
        stored = storage.get_digest(con, day)
        assert stored is not None and stored.total_calls == 3 and stored.topics[0].calls == 3
    finally:
        con.close()


def test_a_digest_without_call_rows_is_scrubbed_from_its_payload() -> None:
    """A digest stored before `digest_calls` existed names its calls only in the payload."""
    day = date.today() - timedelta(days=3)
    con = storage.connect(":memory:")
    storage.migrate(con)
    _fill_day(con, day)
    _digest_of(con, day)
    con.execute("DELETE FROM digest_calls")
    assert storage.delete_call(con, VICTIM)
    _nothing_left(con, day, remaining=["other-1", "other-2"])
    assert storage.delete_calls(con, ["other-1", "other-2", "never-stored"]) == ["other-1", "other-2"]
    stored = storage.get_digest(con, day)
    assert stored is not None and stored.payload["topics"][0]["call_ids"] == []
    assert [t.quotes for t in stored.topics] == [()] and stored.topics[0].label == storage.erase.NO_LABEL
