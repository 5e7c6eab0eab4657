"""Opening the DuckDB file, schema migrations, and small helpers shared by the storage modules.

Use `assistant.storage` (the facade); this module is its lowest layer. Timestamps are stored as
naive `TIMESTAMP` values in UTC (DuckDB's Python client turns `TIMESTAMPTZ` into the session time
zone and needs pytz for that, so plain UTC is simpler and unambiguous); `to_db` converts on the
way in and `from_db` gives back timezone-aware UTC datetimes.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from assistant import config
from assistant.errors import InputError

if TYPE_CHECKING:
    import duckdb

    Connection = duckdb.DuckDBPyConnection
else:
    Connection = Any

MEMORY = ":memory:"

# Allowed values are checked in Python, not with CHECK constraints: DuckDB cannot drop or alter a
# CHECK constraint, so a new channel or outcome would otherwise need a table rebuild.

_SCHEMA_1 = """
CREATE TABLE schema_version (
    version INTEGER PRIMARY KEY,
    description VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
);
CREATE TABLE calls (
    call_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    ended_at TIMESTAMP,
    channel VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    language VARCHAR,
    language_probability DOUBLE,
    duration DOUBLE,
    outcome VARCHAR NOT NULL,
    reason VARCHAR,
    summary_text VARCHAR,
    summary_json JSON,
    sentiment_start DOUBLE,
    sentiment_end DOUBLE,
    sentiment_overall DOUBLE,
    agent_talk_share DOUBLE,
    status VARCHAR NOT NULL,
    error VARCHAR,
    processed_at TIMESTAMP NOT NULL
);
CREATE TABLE utterances (
    call_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    speaker VARCHAR NOT NULL,
    start_s DOUBLE,
    end_s DOUBLE,
    text VARCHAR NOT NULL,
    language VARCHAR,
    translation VARCHAR,
    translation_engine VARCHAR,
    machine_translated BOOLEAN NOT NULL,
    sentiment DOUBLE,
    sentiment_label VARCHAR,
    PRIMARY KEY (call_id, idx)
);
CREATE TABLE suggestions (
    suggestion_id VARCHAR PRIMARY KEY,
    call_id VARCHAR NOT NULL,
    utterance_idx INTEGER,
    article_id VARCHAR,
    article_title VARCHAR,
    article_version VARCHAR,
    score DOUBLE,
    abstained BOOLEAN NOT NULL,
    query_text VARCHAR,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE feedback (
    feedback_id VARCHAR PRIMARY KEY,
    call_id VARCHAR NOT NULL,
    suggestion_id VARCHAR NOT NULL,
    article_id VARCHAR,
    kind VARCHAR NOT NULL,
    comment VARCHAR,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE ingest_errors (
    source VARCHAR NOT NULL,
    error VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE daily_digests (
    digest_date DATE PRIMARY KEY,
    method_version VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    total_calls INTEGER NOT NULL,
    no_answer_share DOUBLE,
    languages JSON,
    digest_text VARCHAR,
    payload JSON
);
CREATE TABLE digest_topics (
    digest_date DATE NOT NULL,
    topic_id VARCHAR NOT NULL,
    label VARCHAR,
    calls INTEGER NOT NULL,
    share DOUBLE,
    change DOUBLE,
    emerging BOOLEAN NOT NULL,
    knowledge_gap BOOLEAN NOT NULL,
    sentiment DOUBLE,
    resolved_share DOUBLE,
    median_handle_time DOUBLE,
    languages JSON,
    quotes JSON,
    rank INTEGER NOT NULL,
    PRIMARY KEY (digest_date, topic_id)
);
CREATE TABLE topic_registry (
    topic_id VARCHAR PRIMARY KEY,
    label VARCHAR,
    centroid FLOAT[],
    first_seen DATE NOT NULL,
    last_seen DATE NOT NULL
);
"""


_SCHEMA_4 = """
CREATE TABLE users (
    name VARCHAR PRIMARY KEY,
    roles VARCHAR NOT NULL,
    password_hash VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    failed_attempts INTEGER NOT NULL,
    locked_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE TABLE sessions (
    token_hash VARCHAR PRIMARY KEY,
    user_name VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE TABLE api_keys (
    name VARCHAR PRIMARY KEY,
    key_hash VARCHAR NOT NULL UNIQUE,
    scopes VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL
);
CREATE SEQUENCE audit_seq;
CREATE TABLE audit_log (
    id BIGINT PRIMARY KEY,
    logged_at TIMESTAMP NOT NULL,
    user_name VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    target VARCHAR
);
"""


_SCHEMA_5 = """
CREATE TABLE article_drafts (
    article_id VARCHAR PRIMARY KEY,
    content JSON NOT NULL,
    author VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE SEQUENCE article_history_seq;
CREATE TABLE article_history (
    id BIGINT PRIMARY KEY,
    article_id VARCHAR NOT NULL,
    action VARCHAR NOT NULL,
    user_name VARCHAR NOT NULL,
    logged_at TIMESTAMP NOT NULL
);
"""


# After-call work (issue 35; `storage.quality`): every row keyed by call_id, deleted with the call.
QUALITY_SCHEMA = """
CREATE TABLE IF NOT EXISTS quality_scores (
    call_id VARCHAR NOT NULL,
    scorecard_id VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    score DOUBLE NOT NULL,
    max_score DOUBLE NOT NULL,
    answers JSON NOT NULL,
    scored_at TIMESTAMP NOT NULL,
    PRIMARY KEY (call_id, scorecard_id)
);
CREATE TABLE IF NOT EXISTS call_metrics (
    call_id VARCHAR PRIMARY KEY,
    metrics JSON NOT NULL,
    speech JSON,
    computed_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS call_wrapup (
    call_id VARCHAR PRIMARY KEY,
    suggested JSON NOT NULL,
    chosen VARCHAR,
    chosen_by VARCHAR,
    chosen_at TIMESTAMP,
    model VARCHAR,
    need BLOB,
    suggested_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS utterance_vectors (
    call_id VARCHAR NOT NULL,
    idx INTEGER NOT NULL,
    model VARCHAR NOT NULL,
    pieces INTEGER NOT NULL,
    vec BLOB NOT NULL,
    PRIMARY KEY (call_id, idx)
);
"""


def _sql(script: str) -> Callable[[Connection], None]:
    def run(con: Connection) -> None:
        con.execute(script)

    return run


# Forward-only migrations: (version, description, function). Append; never edit a released entry.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "calls, utterances, suggestions, feedback, ingest errors, digests, topic registry", _sql(_SCHEMA_1)),
    (2, "calls.agent_id: who handled the call", _sql("ALTER TABLE calls ADD COLUMN agent_id VARCHAR;")),
    (
        3,
        "digest_calls: each digested call's topic",
        _sql(
            "CREATE TABLE digest_calls (digest_date DATE NOT NULL, call_id VARCHAR NOT NULL, "
            "topic_id VARCHAR NOT NULL, PRIMARY KEY (digest_date, call_id, topic_id));"
        ),
    ),
    (4, "users, sessions, api_keys, audit_log: who may do what, and who did", _sql(_SCHEMA_4)),
    (5, "article_drafts, article_history: the article workflow", _sql(_SCHEMA_5)),
    (
        6,
        "calls.queue, calls.alerts: where a live call was routed, and the alerts it raised (JSON)",
        _sql("ALTER TABLE calls ADD COLUMN queue VARCHAR; ALTER TABLE calls ADD COLUMN alerts VARCHAR;"),
    ),
    (
        7,
        "sign_in_throttle: failed sign-ins per (user name, source), replacing the account-wide lock; "
        "audit_log.source: the client address of a sign-in line",
        _sql(
            "CREATE TABLE sign_in_throttle (name_hash VARCHAR NOT NULL, source VARCHAR NOT NULL, "
            "attempts INTEGER NOT NULL, locks INTEGER NOT NULL, locked_until TIMESTAMP, "
            "last_at TIMESTAMP NOT NULL, PRIMARY KEY (name_hash, source));"
            "UPDATE users SET failed_attempts = 0, locked_until = NULL;"
            "ALTER TABLE audit_log ADD COLUMN source VARCHAR;"
        ),
    ),
    (
        8,
        "quality_scores, call_metrics, call_wrapup, utterance_vectors: after-call work (issue 35)",
        _sql(QUALITY_SCHEMA),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]


def connect(path: str | Path, read_only: bool = False) -> Connection:
    """Open a DuckDB file (or ":memory:") without migrating, turning open failures into InputError.

    Most callers want `open_db`, which also creates or migrates the schema.
    """
    import duckdb

    target = str(path)
    if target != MEMORY:
        file = Path(target).expanduser()
        target = str(file)
        if read_only and not file.exists():
            raise InputError(f"database {file} does not exist")
        if not read_only:
            file.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(target, read_only=read_only)
    except duckdb.IOException as exc:
        raise _open_error(target, str(exc)) from None
    except duckdb.ConnectionException as exc:
        # DuckDB shares one instance per file within a process; a second open in the other mode fails.
        raise InputError(
            f"database {target} is already open in this process in another mode (read-only vs read-write)",
            hint="reuse that connection through con.cursor()",
        ) from exc
    if target != MEMORY and not read_only:
        private_files(target)
    return con


def private_files(db_path: str | Path) -> None:
    """The database and its write-ahead log readable by their owner only (0600). New files get
    it from the umask (`assistant` sets 077); this also tightens a file made earlier with a
    looser one. A file owned by someone else keeps its mode (not ours to change)."""
    if str(db_path) == MEMORY:
        return
    db = Path(db_path).expanduser()
    for path in (db, Path(f"{db}.wal")):
        with contextlib.suppress(OSError):
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)


_LOCK = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")


def _open_error(target: str, text: str) -> InputError:
    lock = _LOCK.search(text)
    if lock:
        return InputError(
            f"database {target} is in use by {lock['program']} (PID {lock['pid']})",
            hint="DuckDB allows one process per file: use the running assistant service, or stop it first",
        )
    if "Could not set lock" in text:
        return InputError(
            f"database {target} is locked by another process",
            hint="DuckDB allows one process per file: use the running assistant service, or stop it first",
        )
    if "not a valid DuckDB database" in text:
        return InputError(f"{target} is not a DuckDB database file")
    first_line = text.strip().splitlines()[0] if text.strip() else "unknown error"
    return InputError(f"cannot open database {target}: {first_line}")


def open_db(path: str | Path | None = None, read_only: bool = False) -> Connection:
    """Open the assistant's database (default: the `db` setting), creating or migrating its schema.

    Read-only, the schema is only checked. InputError when another process holds the file, the
    file is not an assistant database, or its schema is newer than this code.
    """
    if path is None:
        path = config.get().db
    con = connect(path, read_only=read_only)
    try:
        if read_only:
            version = schema_version(con)
            if version != SCHEMA_VERSION:
                _check_not_newer(version, path)
                raise InputError(
                    f"database {path} has schema version {version}; this assistant needs {SCHEMA_VERSION}",
                    hint="open it read-write once (start the service or run any writing command) to migrate",
                )
        else:
            migrate(con, label=str(path))
    except BaseException:
        con.close()
        raise
    return con


def _user_tables(con: Connection) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_catalog = current_database() AND table_schema = 'main'"
    ).fetchall()
    return {name for (name,) in rows}


def schema_version(con: Connection) -> int:
    """The highest migration applied (0 for an empty database). InputError for a foreign file."""
    tables = _user_tables(con)
    if "schema_version" not in tables:
        if tables:
            raise InputError(
                "database has tables but no schema_version table; it is not an assistant database"
            )
        return 0
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(row[0]) if row else 0


def _check_not_newer(version: int, label: object) -> None:
    if version > SCHEMA_VERSION:
        raise InputError(
            f"database {label} has schema version {version}, newer than this assistant knows ({SCHEMA_VERSION})",
            hint="upgrade the assistant; it will not downgrade a database",
        )


def migrate(con: Connection, label: str = MEMORY) -> int:
    """Apply pending migrations, each in its own transaction. Returns the resulting version."""
    version = schema_version(con)
    _check_not_newer(version, label)
    for number, description, apply in MIGRATIONS:
        if number <= version:
            continue
        with transaction(con):
            apply(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, ?)", [number, description, to_db(now())])
        version = number
    return version


@contextmanager
def transaction(con: Connection) -> Iterator[None]:
    """BEGIN ... COMMIT, or ROLLBACK and re-raise on any error (the previous state stays)."""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def now() -> datetime:
    return datetime.now(UTC)


@overload
def to_db(value: datetime) -> datetime: ...
@overload
def to_db(value: None) -> None: ...
def to_db(value: datetime | None) -> datetime | None:
    """UTC naive datetime for a TIMESTAMP column; a naive input is taken to be UTC already."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise InputError(f"expected a datetime, got {type(value).__name__} {value!r}")
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


@overload
def from_db(value: datetime) -> datetime: ...
@overload
def from_db(value: None) -> None: ...
def from_db(value: datetime | None) -> datetime | None:
    """Timezone-aware UTC datetime from a TIMESTAMP column."""
    return None if value is None else value.replace(tzinfo=UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=_json_default, ensure_ascii=False)


def loads_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def rows(con: Connection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """Run a query and return each row as a dict keyed by column name."""
    cursor = con.execute(sql, list(params))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
