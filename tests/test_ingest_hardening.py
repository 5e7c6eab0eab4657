"""Batch ingest against hostile input: poison lines, huge texts, call ids that collide (issue 16).

Engines are the fakes of test_live.py; the done-when run with real models is measured by hand
(see the branch report), not timed here.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fakes import fake_processor

from assistant import storage
from assistant.batch.ingest import IngestReport, ingest
from assistant.batch.run import main

REPO = Path(__file__).resolve().parent.parent


def line(call_id: str, text: str = "I lost my food benefits card and need a new one.", **extra) -> str:  # noqa: ANN003
    data = {
        "call_id": call_id,
        "started_at": "2026-11-21T09:00:00Z",
        "channel": "chat",
        "utterances": [{"speaker": "caller", "text": text}, {"speaker": "agent", "text": "I can help."}],
        **extra,
    }
    return json.dumps(data) + "\n"


def stored_ids(db: Path) -> list[str]:
    con = storage.open_db(db)
    try:
        return sorted(r[0] for r in con.execute("SELECT call_id FROM calls").fetchall())
    finally:
        con.close()


def test_lone_surrogate_line_is_reported_with_its_number_and_later_lines_go_on(tmp_path: Path) -> None:
    src = tmp_path / "calls.jsonl"
    poison = line("c2").replace("I lost", "I \\ud800lost")
    src.write_text(line("c1") + poison + line("c3"))
    db = tmp_path / "i.duckdb"
    report = ingest(src, db, processor=fake_processor())
    assert (report.stored, report.failed) == (2, 1)
    assert report.errors[0][0] == f"{src}:2" and "surrogate" in report.errors[0][1]
    assert stored_ids(db) == ["c1", "c3"]
    again = ingest(src, db, processor=fake_processor())
    assert (again.stored, again.skipped, again.failed) == (0, 2, 1)


def test_huge_text_is_truncated_with_its_reason(tmp_path: Path) -> None:
    src = tmp_path / "calls.jsonl"
    src.write_text(line("big", "help me please " * 200_000) + line("small"))
    db = tmp_path / "i.duckdb"
    report = ingest(src, db, processor=fake_processor())
    assert report.stored == 2 and report.failed == 0
    assert any("text truncated" in note and "kept the first 20,000" in note for _, note in report.notes)
    con = storage.open_db(db)
    try:
        call = storage.get_call(con, "big")
    finally:
        con.close()
    assert call is not None and len(call.utterances[0].text) <= 20_000
    assert call.error and "truncated" in call.error


def test_repeated_call_id_with_other_content_keeps_both_and_same_content_is_a_duplicate(
    tmp_path: Path,
) -> None:
    src = tmp_path / "calls.jsonl"
    src.write_text(line("c1") + line("c1", "My water bill is way too high, why?") + line("c1"))
    db = tmp_path / "i.duckdb"
    report = ingest(src, db, processor=fake_processor())
    assert report.stored == 2 and report.duplicates == 1 and report.failed == 0
    ids = stored_ids(db)
    assert len(ids) == 2 and "c1" in ids and any(i.startswith("c1-") for i in ids)
    assert any("duplicate" in note and f"{src}:1" in note for _, note in report.notes)
    again = ingest(src, db, processor=fake_processor())
    assert again.stored == 0 and stored_ids(db) == ids


def test_same_file_name_in_two_folders_gives_two_calls(tmp_path: Path) -> None:
    sample = REPO / "samples" / "call-en-payment-pii.wav"
    for folder in ("a", "b"):
        (tmp_path / "in" / folder).mkdir(parents=True)
        shutil.copy(sample, tmp_path / "in" / folder / "call001.wav")

    class Quick:  # a processor that does not transcribe: the ids are what this test is about
        def process_file(self, path, call_id=None):  # noqa: ANN001, ANN201
            from datetime import UTC, datetime

            from assistant.calls.processor import RawUtterance

            return fake_processor().process_utterances(
                call_id, datetime.now(UTC), [RawUtterance("caller", 0, 1, f"hello from {path}")]
            )

    db = tmp_path / "i.duckdb"
    report = ingest(tmp_path / "in", db, processor=Quick())
    assert report.stored == 2, report
    ids = stored_ids(db)
    assert len(ids) == 2 and "call001" in ids
    assert ingest(tmp_path / "in", db, processor=Quick()).skipped == 2
    assert stored_ids(db) == ids


def test_report_line_and_json_round_trip() -> None:
    r = IngestReport(stored=1, skipped=2, failed=0, duplicates=1, notes=[("f:1", "dup")])
    assert IngestReport.from_json(r.to_json()) == r
    assert r.line() == "ingest: 1 stored, 2 already stored, 0 failed, 1 duplicate(s) in this batch"
    assert IngestReport(stored=1).line() == "ingest: 1 stored, 0 already stored, 0 failed"


def test_main_prints_the_bad_line_without_traceback(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import assistant.batch.run as module

    src = tmp_path / "calls.jsonl"
    src.write_text(line("c1").replace("I lost", "I \\udfffost") + line("c2"))
    real = module.ingest
    monkeypatch.setattr(module, "ingest", lambda s, db, **kw: real(s, db, processor=fake_processor()))
    assert main([str(src), "--db", str(tmp_path / "i.duckdb")]) == 0
    out = capsys.readouterr()
    assert f"failed: {src}:1: utterances[0].text contains an invalid character" in out.err
    assert "1 stored" in out.out and "Traceback" not in out.err


def test_rerun_of_many_calls_stores_nothing_new(tmp_path: Path) -> None:
    # Storage keeps a call's source in its safe form (assistant/privacy/gate.py), which rewrites a content
    # hash that looks like a number: a re-run must still recognise every call as already stored.
    src = tmp_path / "calls.jsonl"
    src.write_text("".join(line(f"c{i}", f"Question number {i} about my benefits card.") for i in range(40)))
    db = tmp_path / "i.duckdb"
    first = ingest(src, db, processor=fake_processor())
    assert (first.stored, first.failed) == (40, 0)
    again = ingest(src, db, processor=fake_processor())
    assert (again.stored, again.skipped, again.failed) == (0, 40, 0)
    assert stored_ids(db) == sorted(f"c{i}" for i in range(40))
