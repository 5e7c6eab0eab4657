"""Storage: schema migrations, locking, atomic replacement, crash safety, and every read the product needs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from assistant import storage
from assistant.errors import InputError
from assistant.storage import (
    CallRecord,
    DigestTopic,
    RegisteredTopic,
    SuggestionRecord,
    UtteranceRecord,
)
from assistant.storage import calls as storage_calls

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 5, 6, 14, 30, tzinfo=UTC)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(":memory:")
    storage.migrate(connection)
    yield connection
    connection.close()


def make_call(
    call_id: str = "c1",
    started_at: datetime = T0,
    utterances: int | tuple[UtteranceRecord, ...] = 3,
    version: str = "v1",
    **fields: object,
) -> CallRecord:
    utts = (
        tuple(
            UtteranceRecord(
                speaker="caller" if i % 2 == 0 else "agent",
                start=float(i),
                end=i + 0.9,
                text=f"{version} utterance {i} about [CARD]",
                language="es" if i == 0 else "en",
                translation="translated" if i == 0 else None,
                translation_engine="argos" if i == 0 else None,
                machine_translated=i == 0,
                sentiment=-0.5 + i * 0.1,
                sentiment_label="neutral",
            )
            for i in range(utterances)
        )
        if isinstance(utterances, int)
        else utterances
    )
    suggestions = (
        SuggestionRecord(
            query_text="renew licence",
            article_id="kb-renewal",
            article_title="Renewing a licence",
            article_version="2024-04-01",
            score=0.81,
            utterance_idx=0,
        ),
        SuggestionRecord(
            query_text="weird question", article_id=None, score=0.2, abstained=True, utterance_idx=0
        ),
    )
    values: dict[str, object] = dict(
        call_id=call_id,
        started_at=started_at,
        channel="voice",
        source="/recordings/a.wav",
        ended_at=started_at + timedelta(minutes=4) if isinstance(started_at, datetime) else None,
        language="en",
        language_probability=0.97,
        duration=240.0,
        outcome="resolved",
        reason="licence renewal",
        summary_text=f"summary {version}",
        summary_json={"reason": "renewal", "steps": ["a", "b"]},
        agent_talk_share=0.4,
        utterances=utts,
        suggestions=suggestions,
    )
    values.update(fields)
    return CallRecord(**values)  # type: ignore[arg-type]


def count(con: duckdb.DuckDBPyConnection, table: str, call_id: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table} WHERE call_id = ?", [call_id]).fetchone()[0]


# ---------------------------------------------------------------- schema and opening


def test_migrate_creates_every_table_once(con: duckdb.DuckDBPyConnection) -> None:
    tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {
        "schema_version",
        "calls",
        "utterances",
        "suggestions",
        "feedback",
        "ingest_errors",
        "daily_digests",
        "digest_topics",
        "topic_registry",
    } <= tables
    assert storage.schema_version(con) == storage.SCHEMA_VERSION
    assert storage.migrate(con) == storage.SCHEMA_VERSION
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(storage.MIGRATIONS)


def test_open_db_creates_file_and_parent_then_reopens(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "a.duckdb"
    db = storage.open_db(path)
    storage.save_call(db, make_call())
    db.close()
    db = storage.open_db(path)
    assert storage.get_call(db, "c1") is not None
    db.close()
    ro = storage.open_db(path, read_only=True)
    assert storage.call_exists(ro, "c1")
    ro.close()


def test_open_db_defaults_to_the_db_setting(isolated_home: Path) -> None:
    db = storage.open_db()
    storage.save_call(db, make_call())
    db.close()
    assert (isolated_home / "assistant.duckdb").is_file()


def test_older_schema_file_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    number, description, apply = storage.MIGRATIONS[0]
    apply(old)
    old.execute("INSERT INTO schema_version VALUES (?, ?, now())", [number, description])
    old.execute(
        "INSERT INTO calls (call_id, started_at, channel, source, outcome, status, processed_at) "
        "VALUES ('old-1', TIMESTAMP '2024-01-02 03:04:05', 'chat', 'jsonl', 'unknown', 'complete', now())"
    )
    old.close()

    db = storage.open_db(path)
    assert storage.schema_version(db) == storage.SCHEMA_VERSION
    columns = {r[0] for r in db.execute("DESCRIBE calls").fetchall()}
    assert "agent_id" in columns
    call = storage.get_call(db, "old-1")
    assert call is not None and call.agent_id is None
    assert call.started_at == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    storage.save_call(db, make_call("new-1", agent_id="agent-7"))
    assert storage.get_call(db, "new-1").agent_id == "agent-7"
    db.close()


def test_read_only_open_of_older_schema_asks_for_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    storage.MIGRATIONS[0][2](old)
    old.execute("INSERT INTO schema_version VALUES (1, 'x', now())")
    old.close()
    with pytest.raises(InputError, match="schema version 1.*read-write once"):
        storage.open_db(path, read_only=True)


def test_newer_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.duckdb"
    storage.open_db(path).close()
    raw = duckdb.connect(str(path))
    raw.execute("INSERT INTO schema_version VALUES (99, 'from the future', now())")
    raw.close()
    with pytest.raises(InputError, match="schema version 99, newer than this assistant knows"):
        storage.open_db(path)
    with pytest.raises(InputError, match="newer"):
        storage.open_db(path, read_only=True)
    # The refused open did not keep the file locked or half-open.
    raw = duckdb.connect(str(path))
    assert raw.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 99
    raw.close()


def test_foreign_database_and_non_database_files_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.duckdb"
    raw = duckdb.connect(str(foreign))
    raw.execute("CREATE TABLE something (a INTEGER)")
    raw.close()
    with pytest.raises(InputError, match="not an assistant database"):
        storage.open_db(foreign)
    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(b"not a database " * 200)
    with pytest.raises(InputError, match="not a DuckDB database file"):
        storage.open_db(junk)
    with pytest.raises(InputError, match="does not exist"):
        storage.open_db(tmp_path / "missing.duckdb", read_only=True)


def test_file_locked_by_another_process_names_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    storage.open_db(path).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(InputError) as caught:
            storage.open_db(path)
        message = str(caught.value)
        assert f"(PID {holder.pid})" in message
        assert "use the running assistant service, or stop it" in message
        with pytest.raises(InputError, match=f"PID {holder.pid}"):
            storage.open_db(path, read_only=True)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    storage.open_db(path).close()


# ---------------------------------------------------------------- calls


def test_save_and_get_call_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    eastern = timezone(timedelta(hours=-4))
    started = datetime(2024, 5, 6, 10, 30, tzinfo=eastern)
    ids = storage.save_call(con, make_call(started_at=started))
    assert ids == ("c1:0", "c1:1")
    call = storage.get_call(con, "c1")
    assert call is not None
    assert call.started_at == T0 and call.started_at.tzinfo is UTC
    assert call.ended_at == T0 + timedelta(minutes=4)
    assert call.processed_at.tzinfo is UTC
    assert (call.channel, call.source, call.outcome, call.status) == (
        "voice",
        "/recordings/a.wav",
        "resolved",
        "complete",
    )
    assert call.summary_json == {"reason": "renewal", "steps": ["a", "b"]}
    assert [u.idx for u in call.utterances] == [0, 1, 2]
    first = call.utterances[0]
    assert (first.speaker, first.start, first.end, first.language) == ("caller", 0.0, 0.9, "es")
    assert first.machine_translated is True and first.translation_engine == "argos"
    assert call.utterances[1].machine_translated is False and call.utterances[1].translation is None
    found, abstained = call.suggestions
    assert (found.suggestion_id, found.article_id, found.article_version, found.abstained) == (
        "c1:0",
        "kb-renewal",
        "2024-04-01",
        False,
    )
    assert (abstained.suggestion_id, abstained.article_id, abstained.abstained, abstained.score) == (
        "c1:1",
        None,
        True,
        0.2,
    )
    assert call.feedback == ()
    assert storage.get_call(con, "nope") is None


def test_naive_datetimes_are_taken_as_utc(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call(started_at=datetime(2024, 5, 6, 14, 30)))
    assert storage.get_call(con, "c1").started_at == T0


def test_replacing_a_call_keeps_exactly_one_copy(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call(utterances=5, version="v1"))
    storage.save_call(con, make_call(utterances=2, version="v2", outcome="transferred"))
    storage.save_call(con, make_call(utterances=2, version="v3", outcome="follow-up"))
    assert (count(con, "calls", "c1"), count(con, "utterances", "c1"), count(con, "suggestions", "c1")) == (
        1,
        2,
        2,
    )
    call = storage.get_call(con, "c1")
    assert call.outcome == "follow-up" and call.summary_text == "summary v3"
    assert all(u.text.startswith("v3 ") for u in call.utterances)


def test_a_long_call_is_stored_whole(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call(utterances=1203))
    call = storage.get_call(con, "c1")
    assert [u.idx for u in call.utterances] == list(range(1203))
    assert call.utterances[1202].text == "v1 utterance 1202 about [CARD]"


def test_failed_replacement_rolls_back_to_previous_version(
    con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.save_call(con, make_call(utterances=4, version="v1"))

    def boom(*args: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage_calls, "_insert_suggestions", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.save_call(con, make_call(utterances=1, version="v2"))
    monkeypatch.undo()
    call = storage.get_call(con, "c1")
    assert call.summary_text == "summary v1"
    assert len(call.utterances) == 4 and len(call.suggestions) == 2
    assert all(u.text.startswith("v1 ") for u in call.utterances)
    # The connection is usable again after the rollback.
    storage.save_call(con, make_call(utterances=1, version="v3"))
    assert storage.get_call(con, "c1").summary_text == "summary v3"


def test_database_error_mid_save_rolls_back(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call(version="v1"))
    bad = make_call(version="v2", suggestions=(SuggestionRecord("q", "kb-1", score="not a number"),))  # type: ignore[arg-type]
    with pytest.raises(duckdb.Error):
        storage.save_call(con, bad)
    assert storage.get_call(con, "c1").summary_text == "summary v1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"call_id": " "}, "non-empty call_id"),
        ({"channel": "fax"}, "unknown channel 'fax'"),
        ({"outcome": "escalated"}, "unknown outcome 'escalated'"),
        ({"status": "done"}, "unknown call status 'done'"),
        ({"started_at": "2024-05-06"}, "started_at must be a datetime"),
        ({"utterances": (UtteranceRecord("robot", 0, 1, "hi"),)}, "unknown speaker 'robot'"),
        (
            {"suggestions": (SuggestionRecord("q", "kb-1", abstained=True),)},
            "abstained search has no article_id",
        ),
        ({"suggestions": (SuggestionRecord("q", None),)}, "needs an article_id"),
        ({"suggestions": (SuggestionRecord("q", "kb-1", utterance_idx=7),)}, "utterance_idx 7"),
    ],
)
def test_bad_call_records_are_refused_and_nothing_is_stored(
    con: duckdb.DuckDBPyConnection, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        storage.save_call(con, make_call(**fields))
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 0


def test_call_exists_respects_status(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call("live-1", status="live", source="live"))
    storage.save_call(
        con, make_call("bad-1", status="failed", error="undecodable audio", utterances=0, suggestions=())
    )
    storage.save_call(con, make_call("ok-1"))
    assert not storage.call_exists(con, "live-1")
    assert storage.call_exists(con, "live-1", complete_only=False)
    assert not storage.call_exists(con, "bad-1")
    assert storage.call_exists(con, "ok-1")
    assert not storage.call_exists(con, "missing", complete_only=False)


def test_list_calls_filters_and_orders(con: duckdb.DuckDBPyConnection) -> None:
    for n in range(5):
        storage.save_call(
            con,
            make_call(
                f"c{n}",
                started_at=T0 + timedelta(hours=n),
                language="es" if n % 2 else "en",
                outcome="resolved" if n < 3 else "transferred",
            ),
        )
    assert [c.call_id for c in storage.list_calls(con)] == ["c4", "c3", "c2", "c1", "c0"]
    assert storage.list_calls(con)[0].utterances == ()
    assert [
        c.call_id
        for c in storage.list_calls(con, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    ] == [
        "c2",
        "c1",
    ]
    assert [c.call_id for c in storage.list_calls(con, language="es")] == ["c3", "c1"]
    assert [c.call_id for c in storage.list_calls(con, outcome="transferred")] == ["c4", "c3"]
    assert [c.call_id for c in storage.list_calls(con, limit=2, offset=1)] == ["c3", "c2"]
    assert storage.list_calls(con, status="live") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outcome": "maybe"}, "unknown outcome"),
        ({"status": "x"}, "unknown call status"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
    ],
)
def test_list_calls_bad_filters(
    con: duckdb.DuckDBPyConnection, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        storage.list_calls(con, **kwargs)


# ---------------------------------------------------------------- feedback and ingest errors


def test_feedback_is_stored_validated_and_kept_across_replacement(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call())
    storage.save_call(con, make_call("c2"))
    fb = storage.add_feedback(con, "c1", "c1:0", "helpful", "  clear steps  ")
    assert (fb.article_id, fb.kind, fb.comment, fb.created_at.tzinfo) == (
        "kb-renewal",
        "helpful",
        "clear steps",
        UTC,
    )
    storage.add_feedback(con, "c1", "c1:1", "not_helpful", "   ")
    with pytest.raises(InputError, match="unknown feedback kind 'great'"):
        storage.add_feedback(con, "c1", "c1:0", "great")
    with pytest.raises(InputError, match="no suggestion 'c1:9'"):
        storage.add_feedback(con, "c1", "c1:9", "helpful")
    with pytest.raises(InputError, match="no suggestion 'c2:0' is stored for call 'c1'"):
        storage.add_feedback(con, "c1", "c2:0", "helpful")  # another call's: the same answer as none
    with pytest.raises(InputError, match="cannot be marked used"):
        storage.add_feedback(con, "c1", "c1:1", "used")

    storage.save_call(con, make_call(version="v2"))  # e.g. a live call saved again
    call = storage.get_call(con, "c1")
    assert [(f.suggestion_id, f.kind, f.comment) for f in call.feedback] == [
        ("c1:0", "helpful", "clear steps"),
        ("c1:1", "not_helpful", None),
    ]
    assert storage.delete_call(con, "c1") is True
    assert storage.get_call(con, "c1") is None and count(con, "feedback", "c1") == 0
    assert storage.delete_call(con, "c1") is False
    assert storage.get_call(con, "c2") is not None


def test_ingest_errors_are_recorded(con: duckdb.DuckDBPyConnection) -> None:
    storage.record_ingest_error(con, "/rec/broken.wav", "not an audio file", created_at=T0)
    storage.record_ingest_error(
        con, "calls.jsonl:7", "missing started_at", created_at=T0 + timedelta(minutes=1)
    )
    errors = storage.list_ingest_errors(con)
    assert [(e.source, e.error) for e in errors] == [
        ("calls.jsonl:7", "missing started_at"),
        ("/rec/broken.wav", "not an audio file"),
    ]
    assert errors[1].created_at == T0


# ---------------------------------------------------------------- digests and per-day reads


def topic(topic_id: str, rank: int, **fields: object) -> DigestTopic:
    return DigestTopic(topic_id=topic_id, label=f"label {topic_id}", calls=3, share=0.3, rank=rank, **fields)


def test_save_and_get_digest_replaces_the_date(con: duckdb.DuckDBPyConnection) -> None:
    day = date(2024, 5, 6)
    payload = {
        "total_calls": 10,
        "no_answer_share": 0.2,
        "languages": {"en": 7, "es": 3},
        "digest_text": "Busy day",
    }
    storage.save_digest(
        con,
        day,
        "digest-1",
        payload,
        [
            topic("t2", 2, quotes=("my card was charged twice",), languages={"en": 3}),
            {
                "topic_id": "t1",
                "label": "renewals",
                "calls": 5,
                "rank": 1,
                "emerging": True,
                "knowledge_gap": True,
            },
        ],
        registry=[RegisteredTopic("t1", "renewals", (0.1, 0.2), day, day)],
    )
    digest = storage.get_digest(con, day)
    assert (digest.method_version, digest.total_calls, digest.no_answer_share) == ("digest-1", 10, 0.2)
    assert digest.languages == {"en": 7, "es": 3} and digest.payload["digest_text"] == "Busy day"
    assert [t.topic_id for t in digest.topics] == ["t1", "t2"]
    assert digest.topics[0].emerging and digest.topics[0].knowledge_gap
    assert digest.topics[1].quotes == ("my card was charged twice",) and digest.topics[1].languages == {
        "en": 3
    }

    storage.save_digest(con, day, "digest-2", {"total_calls": 4}, [topic("t3", 1)])
    digest = storage.get_digest(con, day)
    assert (digest.method_version, digest.total_calls, [t.topic_id for t in digest.topics]) == (
        "digest-2",
        4,
        ["t3"],
    )
    assert con.execute("SELECT count(*) FROM digest_topics").fetchone()[0] == 1
    assert storage.get_digest(con, date(2024, 5, 7)) is None
    assert storage.list_digest_dates(con) == [day]


def test_topic_registry_keeps_first_and_last_seen(con: duckdb.DuckDBPyConnection) -> None:
    d1, d2, d3 = date(2024, 5, 5), date(2024, 5, 6), date(2024, 5, 7)
    storage.save_digest(
        con, d2, "m", {"total_calls": 1}, [], registry=[RegisteredTopic("t1", "a", (1.0, 0.0), d2, d2)]
    )
    storage.save_digest(
        con, d3, "m", {"total_calls": 1}, [], registry=[RegisteredTopic("t1", "b", (0.5, 0.5), d3, d3)]
    )
    storage.save_digest(
        con, d1, "m", {"total_calls": 1}, [], registry=[RegisteredTopic("t1", "c", (0.0, 1.0), d1, d1)]
    )
    (registered,) = storage.registered_topics(con)
    assert (registered.label, registered.centroid, registered.first_seen, registered.last_seen) == (
        "c",
        (0.0, 1.0),
        d1,
        d3,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((date(2024, 5, 6), "m", {}, []), "total_calls"),
        ((date(2024, 5, 6), "", {"total_calls": 1}, []), "method_version"),
        (("2024-05-06", "m", {"total_calls": 1}, []), "must be a date"),
        ((date(2024, 5, 6), "m", {"total_calls": 1}, [topic("t", 1), topic("t", 2)]), "appears twice"),
        (
            (date(2024, 5, 6), "m", {"total_calls": 1}, [{"topic_id": "t", "calls": 1, "colour": "red"}]),
            "colour",
        ),
    ],
)
def test_bad_digests_are_refused(con: duckdb.DuckDBPyConnection, args: tuple, message: str) -> None:
    with pytest.raises(InputError, match=message):
        storage.save_digest(con, *args)
    assert con.execute("SELECT count(*) FROM daily_digests").fetchone()[0] == 0


def test_calls_for_day_gives_caller_text_suggestions_and_feedback(con: duckdb.DuckDBPyConnection) -> None:
    day = date(2024, 5, 6)
    storage.save_call(con, make_call("early", started_at=datetime(2024, 5, 6, 0, 0, tzinfo=UTC)))
    storage.save_call(con, make_call("late", started_at=datetime(2024, 5, 6, 23, 59, tzinfo=UTC)))
    storage.save_call(con, make_call("next", started_at=datetime(2024, 5, 7, 0, 0, tzinfo=UTC)))
    storage.save_call(con, make_call("live", started_at=T0, status="live"))
    storage.add_feedback(con, "late", "late:0", "used")
    calls = storage.calls_for_day(con, day)
    assert [c.call_id for c in calls] == ["early", "late"]
    late = calls[1]
    assert {u.speaker for u in late.utterances} == {"caller"} and [u.idx for u in late.utterances] == [0, 2]
    assert len(late.suggestions) == 2 and [f.kind for f in late.feedback] == ["used"]
    assert calls[0].feedback == ()
    # The same instants seen from New York: "late" (19:59 local) is on the 6th, "next" (20:00) too.
    new_york = storage.calls_for_day(con, day, tz=ZoneInfo("America/New_York"))
    assert [c.call_id for c in new_york] == ["late", "next"]
    with_live = storage.calls_for_day(con, day, statuses=("complete", "live"), speakers=("agent",))
    assert [c.call_id for c in with_live] == ["early", "live", "late"]
    assert {u.speaker for c in with_live for u in c.utterances} == {"agent"}
    with pytest.raises(InputError, match="unknown speaker"):
        storage.calls_for_day(con, day, speakers=("customer",))
    with pytest.raises(InputError, match="unknown call status"):
        storage.calls_for_day(con, day, statuses=("ok",))


def test_article_usage_counts_suggestions_and_feedback(con: duckdb.DuckDBPyConnection) -> None:
    storage.save_call(con, make_call("c1"))
    storage.save_call(con, make_call("c2", started_at=T0 + timedelta(days=1)))
    storage.add_feedback(con, "c1", "c1:0", "helpful")
    storage.add_feedback(con, "c2", "c2:0", "used")
    storage.add_feedback(con, "c2", "c2:0", "not_helpful")
    storage.add_feedback(con, "c2", "c2:1", "not_helpful")  # abstained: counted for no article
    (usage,) = storage.article_usage(con)
    assert (usage.article_id, usage.article_title, usage.suggested) == ("kb-renewal", "Renewing a licence", 2)
    assert (usage.helpful, usage.not_helpful, usage.used) == (1, 1, 1)
    assert usage.last_suggested is not None and usage.last_suggested.tzinfo is UTC
    assert storage.article_usage(con, since=datetime.now(UTC) + timedelta(days=1)) == []


def test_open_questions_are_abstained_and_unhelpful_answers(con: duckdb.DuckDBPyConnection) -> None:
    assert storage.open_questions(con) == []
    storage.save_call(con, make_call("c1"))
    storage.save_call(con, make_call("c2", started_at=T0 + timedelta(days=1)))
    storage.add_feedback(con, "c1", "c1:0", "helpful")  # a helpful answer is not a gap
    storage.add_feedback(con, "c2", "c2:0", "not_helpful")
    got = storage.open_questions(con)
    assert [(q.query, q.count) for q in got] == [("weird question", 2), ("renew licence", 1)]
    assert all(q.last_seen is not None and q.last_seen.tzinfo is UTC for q in got)
    assert [q.query for q in storage.open_questions(con, limit=1)] == ["weird question"]
    with pytest.raises(InputError, match="limit"):
        storage.open_questions(con, limit=0)


# ---------------------------------------------------------------- concurrency and crash safety


def test_one_cursor_per_thread_on_a_shared_connection(tmp_path: Path) -> None:
    db = storage.open_db(tmp_path / "shared.duckdb")
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        cursor = db.cursor()
        try:
            for n in range(5):
                storage.save_call(cursor, make_call(f"w{worker}-{n}"))
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)
        finally:
            cursor.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM calls").fetchone()[0] == 20
    assert db.execute("SELECT count(*) FROM utterances").fetchone()[0] == 60
    db.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime, timedelta
    from assistant import storage
    from assistant.storage import CallRecord, SuggestionRecord, UtteranceRecord

    con = storage.open_db(sys.argv[1])
    start = int(sys.argv[2])
    for n in range(start, start + 100000):
        call_id = f"k{n}"
        # Every fifth save replaces an earlier call, so replacement is also interrupted.
        if n % 5 == 4 and n > start:
            call_id = f"k{n - 3}"
        utterances = tuple(
            UtteranceRecord("caller", float(i), i + 1.0, f"{call_id} line {i} " + "x" * 200) for i in range(30)
        )
        suggestions = tuple(SuggestionRecord(f"q{i}", f"kb-{i}", score=0.9) for i in range(3))
        call = CallRecord(call_id, datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=n), "voice", "live",
                          summary_text=f"{call_id} done", utterances=utterances, suggestions=suggestions)
        storage.save_call(con, call)
        print(call_id, flush=True)
    """
)


def _run_writer_and_kill(path: Path, start: int, commits: int) -> set[str]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), str(start)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    committed: set[str] = set()
    try:
        while len(committed) < commits:
            line = writer.stdout.readline()
            assert line, "the writer stopped before it was killed"
            committed.add(line.strip())
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()
    assert writer.returncode == -signal.SIGKILL
    return committed


def test_killed_writer_loses_no_committed_call_and_leaves_no_half_call(tmp_path: Path) -> None:
    path = tmp_path / "crash.duckdb"
    committed = _run_writer_and_kill(path, 0, 40)
    # Kill a second writer that first had to recover the first one's log.
    committed |= _run_writer_and_kill(path, 1000, 40)
    db = storage.open_db(path)
    stored = {call_id for (call_id,) in db.execute("SELECT call_id FROM calls").fetchall()}
    assert committed <= stored
    for call_id in stored:
        call = storage.get_call(db, call_id)
        assert call.summary_text == f"{call_id} done"
        assert len(call.utterances) == 30 and len(call.suggestions) == 3
        assert all(u.text.startswith(f"{call_id} line ") for u in call.utterances)
    orphans = db.execute(
        "SELECT count(*) FROM utterances WHERE call_id NOT IN (SELECT call_id FROM calls)"
    ).fetchone()[0]
    assert orphans == 0
    db.close()
