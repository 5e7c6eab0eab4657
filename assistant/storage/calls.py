"""Calls, utterances, suggestions, feedback and ingest errors. Use them through `assistant.storage`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from assistant.errors import InputError
from assistant.privacy.gate import ensure_gated, gate_json, gate_message, safe_id, safe_source
from assistant.storage.quality import QUALITY_TABLES, quality_view, wrapups_for
from assistant.storage.records import (
    CallRecord,
    Feedback,
    IngestError,
    StoredCall,
    StoredSuggestion,
    StoredUtterance,
)
from assistant.storage.schema import (
    Connection,
    dumps_json,
    from_db,
    loads_json,
    now,
    rows,
    to_db,
    transaction,
)
from assistant.vocab import CHANNELS, FEEDBACK_KINDS, OUTCOMES, SPEAKERS, STATUSES

# ---------------------------------------------------------------- calls

_CALL_COLUMNS = (
    "call_id, started_at, ended_at, channel, source, language, language_probability, duration, outcome, "
    "reason, summary_text, summary_json, sentiment_start, sentiment_end, sentiment_overall, "
    "agent_talk_share, status, error, processed_at, agent_id, queue, alerts"
)
_UTTERANCE_SELECT = (
    'SELECT u.call_id, u.idx, u.speaker, u.start_s AS start, u.end_s AS "end", u.text, u.language, '
    "u.translation, u.translation_engine, u.machine_translated, u.sentiment, u.sentiment_label "
    "FROM utterances u"
)
_SUGGESTION_SELECT = (
    "SELECT s.suggestion_id, s.call_id, s.utterance_idx, s.article_id, s.article_title, s.article_version, "
    "s.score, s.abstained, s.query_text, s.created_at FROM suggestions s"
)
_FEEDBACK_SELECT = (
    "SELECT f.feedback_id, f.call_id, f.suggestion_id, f.article_id, f.kind, f.comment, f.created_at "
    "FROM feedback f"
)


def suggestion_id(call_id: str, position: int) -> str:
    """The id `save_call` gives the suggestion at `position` of a call."""
    return f"{safe_id(call_id)}:{position}"


def _safe_suggestion_id(value: str) -> str:
    """A suggestion id named with the raw call id ("<raw id>:<n>") mapped to the stored one."""
    head, sep, tail = str(value).rpartition(":")
    return suggestion_id(head, int(tail)) if sep and head and tail.isdigit() else str(value)


def _choice(value: str, allowed: Sequence[str], what: str) -> None:
    if value not in allowed:
        raise InputError(f"unknown {what} {value!r}; use one of: {', '.join(allowed)}")


def _validate(call: CallRecord) -> None:
    if not isinstance(call.call_id, str) or not call.call_id.strip():
        raise InputError("a call needs a non-empty call_id")
    if not isinstance(call.started_at, datetime):
        raise InputError(f"call {call.call_id}: started_at must be a datetime")
    _choice(call.channel, CHANNELS, "channel")
    _choice(call.outcome, OUTCOMES, "outcome")
    _choice(call.status, STATUSES, "call status")
    for utterance in call.utterances:
        _choice(utterance.speaker, SPEAKERS, "speaker")
    for n, suggestion in enumerate(call.suggestions):
        where = f"call {call.call_id} suggestion {n}"
        if suggestion.abstained and suggestion.article_id is not None:
            raise InputError(f"{where}: an abstained search has no article_id")
        if not suggestion.abstained and not suggestion.article_id:
            raise InputError(f"{where}: a suggestion needs an article_id unless it abstained")
        idx = suggestion.utterance_idx
        if idx is not None and not 0 <= idx < len(call.utterances):
            raise InputError(f"{where}: utterance_idx {idx} is not an utterance of this call")


def save_call(con: Connection, call: CallRecord) -> tuple[str, ...]:
    """Store a call, replacing any earlier version of it atomically. Returns its suggestion ids.

    One transaction deletes the call's row, utterances and suggestions and inserts the new ones; on
    any error it rolls back and the previous version stays. Feedback is kept: it is the agents' own
    input (a live call is saved many times while agents rate its suggestions), and each feedback
    row carries the article it was about.
    """
    _validate(call)
    call = _gated(call)
    saved_at = to_db(now())
    with transaction(con):
        for table in ("calls", "utterances", "suggestions"):
            con.execute(f"DELETE FROM {table} WHERE call_id = ?", [call.call_id])
        _insert_call(con, call, saved_at)
        _insert_utterances(con, call)
        _insert_suggestions(con, call, saved_at)
    return tuple(suggestion_id(call.call_id, n) for n in range(len(call.suggestions)))


def add_to_summary(con: Connection, call_id: str, key: str, value: Any) -> bool:
    """Set one key of a stored call's summary (through the privacy gate), leaving the rest of the
    call as it is: for what arrives after the call was stored (the optional LLM summary), so an
    outcome an agent set meanwhile is not overwritten. False when the call is not stored."""
    with transaction(con):
        found = con.execute("SELECT summary_json FROM calls WHERE call_id = ?", [call_id]).fetchone()
        if found is None:
            return False
        summary = dict(loads_json(found[0]) or {})
        summary[key] = value
        con.execute(
            "UPDATE calls SET summary_json = ? WHERE call_id = ?", [dumps_json(gate_json(summary)), call_id]
        )
    return True


def _gated(call: CallRecord) -> CallRecord:
    """The privacy gate at the write boundary (ARCHITECTURE invariant 6): every text field passes
    `ensure_gated` (text the pipeline gated passes unchanged, anything else is redacted now) and
    the call id and source are replaced by safe forms, so a new path cannot store raw text."""
    return replace(
        call,
        call_id=safe_id(call.call_id),
        source=safe_source(call.source) or "",
        reason=ensure_gated(call.reason),
        summary_text=ensure_gated(call.summary_text),
        summary_json=gate_json(call.summary_json) if call.summary_json is not None else None,
        error=gate_message(call.error) if call.error is not None else None,
        agent_id=safe_id(call.agent_id) if call.agent_id else call.agent_id,
        queue=safe_id(call.queue) if call.queue else call.queue,
        alerts=tuple(gate_json(dict(a)) for a in call.alerts),
        utterances=tuple(
            replace(u, text=ensure_gated(u.text) or "", translation=ensure_gated(u.translation))
            for u in call.utterances
        ),
        suggestions=tuple(replace(x, query_text=ensure_gated(x.query_text) or "") for x in call.suggestions),
    )


def _insert_call(con: Connection, call: CallRecord, saved_at: datetime | None) -> None:
    con.execute(
        f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES ({', '.join(['?'] * 22)})",
        [
            call.call_id,
            to_db(call.started_at),
            to_db(call.ended_at),
            call.channel,
            call.source,
            call.language,
            call.language_probability,
            call.duration,
            call.outcome,
            call.reason,
            call.summary_text,
            dumps_json(call.summary_json),
            call.sentiment_start,
            call.sentiment_end,
            call.sentiment_overall,
            call.agent_talk_share,
            call.status,
            call.error,
            saved_at,
            call.agent_id,
            call.queue,
            dumps_json(list(call.alerts)) if call.alerts else None,
        ],
    )


def _insert_utterances(con: Connection, call: CallRecord) -> None:
    if not call.utterances:
        return
    _insert_many(
        con,
        "INSERT INTO utterances (call_id, idx, speaker, start_s, end_s, text, language, translation, "
        "translation_engine, machine_translated, sentiment, sentiment_label) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                call.call_id,
                idx,
                u.speaker,
                u.start,
                u.end,
                u.text,
                u.language,
                u.translation,
                u.translation_engine,
                bool(u.machine_translated),
                u.sentiment,
                u.sentiment_label,
            ]
            for idx, u in enumerate(call.utterances)
        ],
    )


def _insert_suggestions(con: Connection, call: CallRecord, saved_at: datetime | None) -> None:
    if not call.suggestions:
        return
    _insert_many(
        con,
        "INSERT INTO suggestions (suggestion_id, call_id, utterance_idx, article_id, article_title, "
        "article_version, score, abstained, query_text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                suggestion_id(call.call_id, n),
                call.call_id,
                s.utterance_idx,
                s.article_id,
                s.article_title,
                s.article_version,
                s.score,
                bool(s.abstained),
                s.query_text,
                to_db(s.created_at) if s.created_at is not None else saved_at,
            ]
            for n, s in enumerate(call.suggestions)
        ],
    )


def _insert_many(con: Connection, insert: str, values: list[list[Any]]) -> None:
    """One multi-row INSERT: DuckDB's executemany runs a statement per row, several times slower."""
    head, _, marks = insert.partition(" VALUES ")
    for first in range(0, len(values), 500):  # bounded statement size for very long calls
        chunk = values[first : first + 500]
        con.execute(f"{head} VALUES {', '.join([marks] * len(chunk))}", [v for row in chunk for v in row])


CALL_TABLES = ("calls", "utterances", "suggestions", "feedback", "digest_calls", *QUALITY_TABLES)


def call_exists(con: Connection, call_id: str, complete_only: bool = True) -> bool:
    """Whether the call is stored (with `complete_only`, only if its status is complete)."""
    sql = "SELECT 1 FROM calls WHERE call_id = ?" + (" AND status = 'complete'" if complete_only else "")
    return con.execute(sql, [safe_id(call_id)]).fetchone() is not None


def call_from_row(row: dict[str, Any], **children: Any) -> StoredCall:
    row["started_at"] = from_db(row["started_at"])
    row["ended_at"] = from_db(row["ended_at"])
    row["processed_at"] = from_db(row["processed_at"])
    row["summary_json"] = loads_json(row["summary_json"])
    row["alerts"] = tuple(loads_json(row["alerts"]) or ())
    return StoredCall(**row, **children)


def utterance_from_row(row: dict[str, Any]) -> StoredUtterance:
    return StoredUtterance(**row)


def suggestion_from_row(row: dict[str, Any]) -> StoredSuggestion:
    row["created_at"] = from_db(row["created_at"])
    return StoredSuggestion(**row)


def feedback_from_row(row: dict[str, Any]) -> Feedback:
    row["created_at"] = from_db(row["created_at"])
    return Feedback(**row)


def list_calls(
    con: Connection,
    since: datetime | None = None,
    until: datetime | None = None,
    language: str | None = None,
    outcome: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
    after: tuple[datetime, str] | None = None,
    agent: str | None = None,
    peek: bool = False,
) -> list[StoredCall]:
    """Calls newest first, filtered by start time (`since` inclusive, `until` exclusive) and fields;
    `after` (started_at, call_id) starts after that call (see `list_calls_page`); `agent`: only the
    calls that agent handled; `peek`: one call more than `limit` (whether another page exists)."""
    if outcome is not None:
        _choice(outcome, OUTCOMES, "outcome")
    if status is not None:
        _choice(status, STATUSES, "call status")
    if not 1 <= limit <= 10_000:
        raise InputError(f"limit must be between 1 and 10000, got {limit}")
    limit += 1 if peek else 0
    if offset < 0:
        raise InputError(f"offset must not be negative, got {offset}")
    where, params = [], []
    for clause, value in (
        ("started_at >= ?", to_db(since)),
        ("started_at < ?", to_db(until)),
        ("language = ?", language),
        ("outcome = ?", outcome),
        ("status = ?", status),
        ("agent_id = ?", agent),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if after is not None:
        where.append("(started_at < ? OR (started_at = ? AND call_id > ?))")
        params.extend([to_db(after[0]), to_db(after[0]), after[1]])
    sql = f"SELECT {_CALL_COLUMNS} FROM calls"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, call_id LIMIT ? OFFSET ?"
    found = [call_from_row(row) for row in rows(con, sql, [*params, limit, offset])]
    wrapups = wrapups_for(con, [c.call_id for c in found])
    return [replace(c, quality={"wrapup": wrapups[c.call_id]}) if c.call_id in wrapups else c for c in found]


def encode_cursor(call: StoredCall) -> str:
    """An opaque cursor for the calls after `call` in `list_calls` order (newest first)."""
    import base64
    import json

    key = json.dumps([to_db(call.started_at).isoformat(), call.call_id])
    return base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    import base64
    import binascii
    import json

    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        started, call_id = json.loads(raw)
        return datetime.fromisoformat(started), str(call_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InputError(f"cursor {cursor[:40]!r} is not one this service gave out") from None


def list_calls_page(
    con: Connection, limit: int = 100, cursor: str | None = None, **filters: Any
) -> tuple[list[StoredCall], str | None]:
    """One page of `list_calls` (newest first) after `cursor`, and the cursor of the next page
    (None when no more calls exist). Keyset paging: a call stored meanwhile does not shift pages."""
    if not 1 <= limit <= 10_000:
        raise InputError(f"limit must be between 1 and 10000, got {limit}")
    after = _decode_cursor(cursor) if cursor else None
    found = list_calls(con, limit=limit, after=after, peek=True, **filters)
    more = len(found) > limit
    page = found[:limit]
    return page, encode_cursor(page[-1]) if more and page else None


def get_call(con: Connection, call_id: str) -> StoredCall | None:
    """A call with its utterances, suggestions and feedback, or None if it is not stored. A raw id
    that was stored as an opaque one (`privacy.safe_id`) finds it."""
    call_id = safe_id(call_id)
    found = rows(con, f"SELECT {_CALL_COLUMNS} FROM calls WHERE call_id = ?", [call_id])
    if not found:
        return None
    utterances = rows(con, f"{_UTTERANCE_SELECT} WHERE u.call_id = ? ORDER BY u.idx", [call_id])
    suggestions = rows(
        con, f"{_SUGGESTION_SELECT} WHERE s.call_id = ? ORDER BY s.created_at, s.suggestion_id", [call_id]
    )
    feedback = rows(con, f"{_FEEDBACK_SELECT} WHERE f.call_id = ? ORDER BY f.created_at", [call_id])
    return call_from_row(
        found[0],
        utterances=tuple(utterance_from_row(r) for r in utterances),
        suggestions=tuple(suggestion_from_row(r) for r in suggestions),
        feedback=tuple(feedback_from_row(r) for r in feedback),
        quality=quality_view(con, call_id),
    )


# ---------------------------------------------------------------- feedback and ingest errors


def add_feedback(
    con: Connection,
    call_id: str,
    suggestion_id: str,
    kind: str,
    comment: str | None = None,
    created_at: datetime | None = None,
) -> Feedback:
    """Record an agent's feedback on a stored suggestion of that call. The comment passes the
    privacy gate here, so every path (API, CLI, console) stores it redacted."""
    _choice(kind, FEEDBACK_KINDS, "feedback kind")
    call_id = safe_id(call_id)
    suggestion_id = _safe_suggestion_id(suggestion_id)
    found = con.execute(
        "SELECT call_id, article_id, abstained FROM suggestions WHERE suggestion_id = ?", [suggestion_id]
    ).fetchone()
    if found is None or found[0] != call_id:
        # Another call's suggestion gets the same answer as a missing one: naming its call would
        # confirm a call id the asker may not see.
        raise InputError(f"no suggestion {suggestion_id!r} is stored for call {call_id!r}")
    _, article_id, abstained = found
    if abstained and kind == "used":
        raise InputError(f"suggestion {suggestion_id!r} offered no article, so it cannot be marked used")
    comment = ensure_gated(comment.strip() or None) if comment is not None else None
    feedback = Feedback(
        feedback_id=uuid.uuid4().hex,
        call_id=call_id,
        suggestion_id=suggestion_id,
        article_id=article_id,
        kind=kind,
        comment=comment,
        created_at=from_db(to_db(created_at or now())),
    )
    con.execute(
        "INSERT INTO feedback VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            feedback.feedback_id,
            call_id,
            suggestion_id,
            article_id,
            kind,
            comment,
            to_db(feedback.created_at),
        ],
    )
    return feedback


def record_ingest_error(
    con: Connection, source: str, error: str, created_at: datetime | None = None
) -> IngestError:
    """Remember that a source (a file path, a JSONL line reference) could not be ingested. The
    source is kept as a safe file name (`privacy.safe_source`) and the message is gated, since
    both may echo the input."""
    stamp = to_db(created_at or now())
    raw_source = str(source)
    safe = safe_source(raw_source) or ""
    message = gate_message(str(error).replace(raw_source, safe) if raw_source else str(error))
    con.execute("INSERT INTO ingest_errors VALUES (?, ?, ?)", [safe, message, stamp])
    return IngestError(safe, message, from_db(stamp))


def list_ingest_errors(con: Connection, limit: int = 100) -> list[IngestError]:
    """The most recent ingest errors first."""
    found = rows(
        con, "SELECT source, error, created_at FROM ingest_errors ORDER BY created_at DESC LIMIT ?", [limit]
    )
    return [IngestError(r["source"], r["error"], from_db(r["created_at"])) for r in found]


__all__ = [
    "add_feedback",
    "call_exists",
    "encode_cursor",
    "get_call",
    "list_calls",
    "list_calls_page",
    "list_ingest_errors",
    "record_ingest_error",
    "save_call",
    "suggestion_id",
]
