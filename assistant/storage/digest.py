"""Daily digests, the topic registry, a day's calls for the digest, and article usage.

Use them through `assistant.storage`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from assistant.errors import InputError
from assistant.privacy.gate import ensure_gated, gate_json
from assistant.storage.calls import (
    _CALL_COLUMNS,
    _FEEDBACK_SELECT,
    _SUGGESTION_SELECT,
    _UTTERANCE_SELECT,
    call_from_row,
    feedback_from_row,
    suggestion_from_row,
    utterance_from_row,
)
from assistant.storage.records import StoredCall
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
from assistant.vocab import SPEAKERS, STATUSES


@dataclass(frozen=True)
class DigestTopic:
    """One topic of a day's digest.

    Attributes:
        topic_id: stable id from the topic registry.
        label: short human label.
        calls: how many of the day's calls are about it.
        share: calls / the day's total calls.
        change: share change against the previous period (None when there is none).
        emerging: new or fast-growing.
        knowledge_gap: searches on this topic mostly found no approved answer.
        sentiment: mean caller sentiment.
        resolved_share: share of its calls resolved.
        median_handle_time: seconds.
        languages: language code -> number of calls.
        quotes: short redacted caller quotes.
        rank: 1 = most important.
    """

    topic_id: str
    label: str | None
    calls: int
    share: float | None = None
    change: float | None = None
    emerging: bool = False
    knowledge_gap: bool = False
    sentiment: float | None = None
    resolved_share: float | None = None
    median_handle_time: float | None = None
    languages: Mapping[str, int] = field(default_factory=dict)
    quotes: tuple[str, ...] = ()
    rank: int = 0


@dataclass(frozen=True)
class RegisteredTopic:
    """A topic known across days: its centroid lets tomorrow's clusters keep today's ids."""

    topic_id: str
    label: str | None
    centroid: tuple[float, ...]
    first_seen: date
    last_seen: date


@dataclass(frozen=True)
class StoredDigest:
    """A stored daily digest; `payload` is the whole day payload as given to `save_digest`."""

    digest_date: date
    method_version: str
    created_at: datetime
    total_calls: int
    no_answer_share: float | None
    languages: Mapping[str, int]
    digest_text: str | None
    payload: Mapping[str, Any]
    topics: tuple[DigestTopic, ...]


@dataclass(frozen=True)
class ArticleUsage:
    """How often an article was suggested and what agents said about it."""

    article_id: str
    article_title: str | None
    suggested: int
    helpful: int
    not_helpful: int
    used: int
    last_suggested: datetime | None


def _topic(value: DigestTopic | Mapping[str, Any]) -> DigestTopic:
    if isinstance(value, DigestTopic):
        return value
    try:
        return DigestTopic(**value)
    except TypeError as exc:
        raise InputError(f"digest topic {dict(value).get('topic_id')!r}: {exc}") from None


def save_digest(
    con: Connection,
    digest_date: date,
    method_version: str,
    day_payload: Mapping[str, Any],
    topics: Sequence[DigestTopic | Mapping[str, Any]],
    registry: Sequence[RegisteredTopic] = (),
    members: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Store a day's digest, replacing that date's digest, topics and call topics atomically.

    `day_payload` needs `total_calls` and may hold `no_answer_share`, `languages` and `digest_text`;
    all of it is kept as JSON in `payload`. `registry` entries are upserted in the same
    transaction (first_seen keeps the earliest date, last_seen the latest). `members` maps a
    topic id to the ids of its calls (the per-call topic, see `digest_calls`).
    """
    if not isinstance(digest_date, date) or isinstance(digest_date, datetime):
        raise InputError(f"digest_date must be a date, got {digest_date!r}")
    if "total_calls" not in day_payload:
        raise InputError("a digest's day payload needs total_calls")
    if not method_version:
        raise InputError("a digest needs a method_version")
    # The privacy gate at the write boundary: digest text, labels and quotes come from stored
    # (gated) calls, and are gated again here so no other path can store raw text.
    parsed = [
        replace(t, label=ensure_gated(t.label), quotes=tuple(ensure_gated(q) or "" for q in t.quotes))
        for t in map(_topic, topics)
    ]
    day_payload = gate_json(dict(day_payload))
    ids = [t.topic_id for t in parsed]
    if len(set(ids)) != len(ids):
        raise InputError(f"digest for {digest_date}: a topic id appears twice")
    unknown = set(members or {}) - set(ids)
    if unknown:
        raise InputError(f"digest for {digest_date}: calls given for unknown topics {sorted(unknown)}")
    payload_json = dumps_json(dict(day_payload))
    with transaction(con):
        con.execute("DELETE FROM daily_digests WHERE digest_date = ?", [digest_date])
        con.execute("DELETE FROM digest_topics WHERE digest_date = ?", [digest_date])
        con.execute("DELETE FROM digest_calls WHERE digest_date = ?", [digest_date])
        con.execute(
            "INSERT INTO daily_digests VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                digest_date,
                method_version,
                to_db(now()),
                int(day_payload["total_calls"]),
                day_payload.get("no_answer_share"),
                dumps_json(day_payload.get("languages") or {}),
                day_payload.get("digest_text"),
                payload_json,
            ],
        )
        if parsed:
            con.executemany(
                "INSERT INTO digest_topics VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        digest_date,
                        t.topic_id,
                        t.label,
                        int(t.calls),
                        t.share,
                        t.change,
                        bool(t.emerging),
                        bool(t.knowledge_gap),
                        t.sentiment,
                        t.resolved_share,
                        t.median_handle_time,
                        dumps_json(dict(t.languages)),
                        dumps_json(list(t.quotes)),
                        int(t.rank),
                    ]
                    for t in parsed
                ],
            )
        pairs = sorted({(c, t) for t, calls in (members or {}).items() for c in calls})
        if pairs:  # one statement: executemany is a round trip per row (3 s for 10,000 calls)
            con.execute(
                "INSERT INTO digest_calls SELECT ?, unnest(?), unnest(?)",
                [digest_date, [c for c, _ in pairs], [t for _, t in pairs]],
            )
        for topic in registry:
            _upsert_topic(con, topic)


def _upsert_topic(con: Connection, topic: RegisteredTopic) -> None:
    topic = replace(topic, label=ensure_gated(topic.label))
    con.execute(
        "INSERT INTO topic_registry VALUES (?, ?, ?, ?, ?) ON CONFLICT (topic_id) DO UPDATE SET "
        "label = excluded.label, centroid = excluded.centroid, "
        "first_seen = least(topic_registry.first_seen, excluded.first_seen), "
        "last_seen = greatest(topic_registry.last_seen, excluded.last_seen)",
        [topic.topic_id, topic.label, [float(x) for x in topic.centroid], topic.first_seen, topic.last_seen],
    )


def get_digest(con: Connection, digest_date: date) -> StoredDigest | None:
    """The digest stored for a date with its topics by rank, or None."""
    found = rows(con, "SELECT * FROM daily_digests WHERE digest_date = ?", [digest_date])
    if not found:
        return None
    day = found[0]
    topics = rows(
        con, "SELECT * FROM digest_topics WHERE digest_date = ? ORDER BY rank, topic_id", [digest_date]
    )
    return StoredDigest(
        digest_date=day["digest_date"],
        method_version=day["method_version"],
        created_at=from_db(day["created_at"]),
        total_calls=day["total_calls"],
        no_answer_share=day["no_answer_share"],
        languages=loads_json(day["languages"]) or {},
        digest_text=day["digest_text"],
        payload=loads_json(day["payload"]) or {},
        topics=tuple(
            DigestTopic(
                topic_id=t["topic_id"],
                label=t["label"],
                calls=t["calls"],
                share=t["share"],
                change=t["change"],
                emerging=t["emerging"],
                knowledge_gap=t["knowledge_gap"],
                sentiment=t["sentiment"],
                resolved_share=t["resolved_share"],
                median_handle_time=t["median_handle_time"],
                languages=loads_json(t["languages"]) or {},
                quotes=tuple(loads_json(t["quotes"]) or ()),
                rank=t["rank"],
            )
            for t in topics
        ),
    )


def digest_calls(con: Connection, digest_date: date) -> dict[str, list[str]]:
    """The stored digest's topics of a date and their calls: topic id -> call ids (sorted); empty
    when no digest is stored. A call with several problems can be in several topics."""
    out: dict[str, list[str]] = defaultdict(list)
    for topic_id, call_id in con.execute(
        "SELECT topic_id, call_id FROM digest_calls WHERE digest_date = ? ORDER BY topic_id, call_id",
        [digest_date],
    ).fetchall():
        out[topic_id].append(call_id)
    return dict(out)


def list_digest_dates(con: Connection) -> list[date]:
    """Dates that have a stored digest, newest first."""
    return [
        d
        for (d,) in con.execute("SELECT digest_date FROM daily_digests ORDER BY digest_date DESC").fetchall()
    ]


def registered_topics(con: Connection) -> list[RegisteredTopic]:
    """Every topic in the registry, most recently seen first."""
    found = rows(con, "SELECT * FROM topic_registry ORDER BY last_seen DESC, topic_id")
    return [
        RegisteredTopic(
            r["topic_id"], r["label"], tuple(r["centroid"] or ()), r["first_seen"], r["last_seen"]
        )
        for r in found
    ]


def calls_for_day(
    con: Connection,
    day: date,
    tz: tzinfo = UTC,
    speakers: Sequence[str] = ("caller", "unknown"),
    statuses: Sequence[str] = ("complete",),
) -> list[StoredCall]:
    """What the digest needs for one day: calls started on `day` in time zone `tz`, oldest first.

    Each call carries only utterances by `speakers` (mono recordings have speaker "unknown"), all
    its suggestions and all its feedback.
    """
    for speaker in speakers:
        if speaker not in SPEAKERS:
            raise InputError(f"unknown speaker {speaker!r}; use one of: {', '.join(SPEAKERS)}")
    for status in statuses:
        if status not in STATUSES:
            raise InputError(f"unknown call status {status!r}; use one of: {', '.join(STATUSES)}")
    if not speakers or not statuses:
        return []
    start = to_db(datetime.combine(day, time(0), tzinfo=tz))
    end = to_db(datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz))
    status_marks = ", ".join("?" * len(statuses))
    in_day = f"c.started_at >= ? AND c.started_at < ? AND c.status IN ({status_marks})"
    day_params = [start, end, *statuses]
    calls = rows(
        con,
        f"SELECT {_CALL_COLUMNS} FROM calls c WHERE {in_day} ORDER BY c.started_at, c.call_id",
        day_params,
    )
    if not calls:
        return []
    join = "JOIN calls c ON c.call_id = {}.call_id WHERE " + in_day
    speaker_marks = ", ".join("?" * len(speakers))
    utterances: dict[str, list[Any]] = defaultdict(list)
    for r in rows(
        con,
        f"{_UTTERANCE_SELECT} {join.format('u')} AND u.speaker IN ({speaker_marks}) ORDER BY u.call_id, u.idx",
        [*day_params, *speakers],
    ):
        utterances[r["call_id"]].append(utterance_from_row(r))
    suggestions: dict[str, list[Any]] = defaultdict(list)
    for r in rows(
        con, f"{_SUGGESTION_SELECT} {join.format('s')} ORDER BY s.created_at, s.suggestion_id", day_params
    ):
        suggestions[r["call_id"]].append(suggestion_from_row(r))
    feedback: dict[str, list[Any]] = defaultdict(list)
    for r in rows(con, f"{_FEEDBACK_SELECT} {join.format('f')} ORDER BY f.created_at", day_params):
        feedback[r["call_id"]].append(feedback_from_row(r))
    return [
        call_from_row(
            row,
            utterances=tuple(utterances[row["call_id"]]),
            suggestions=tuple(suggestions[row["call_id"]]),
            feedback=tuple(feedback[row["call_id"]]),
        )
        for row in calls
    ]


def article_usage(con: Connection, since: datetime | None = None) -> list[ArticleUsage]:
    """Per article: times suggested, feedback counts and last suggestion; most suggested first.

    With `since`, only suggestions and feedback from then on count.
    """
    cutoff = to_db(since) if since is not None else datetime(1, 1, 1)
    found = rows(
        con,
        """
        WITH s AS (
            SELECT article_id, count(*) AS suggested, max(created_at) AS last_suggested,
                   arg_max(article_title, created_at) AS article_title
            FROM suggestions WHERE NOT abstained AND article_id IS NOT NULL AND created_at >= ?
            GROUP BY article_id
        ), f AS (
            SELECT article_id,
                   count(*) FILTER (WHERE kind = 'helpful') AS helpful,
                   count(*) FILTER (WHERE kind = 'not_helpful') AS not_helpful,
                   count(*) FILTER (WHERE kind = 'used') AS used
            FROM feedback WHERE article_id IS NOT NULL AND created_at >= ?
            GROUP BY article_id
        )
        SELECT coalesce(s.article_id, f.article_id) AS article_id, s.article_title,
               coalesce(s.suggested, 0) AS suggested, coalesce(f.helpful, 0) AS helpful,
               coalesce(f.not_helpful, 0) AS not_helpful, coalesce(f.used, 0) AS used, s.last_suggested
        FROM s FULL OUTER JOIN f ON s.article_id = f.article_id
        ORDER BY suggested DESC, article_id
        """,
        [cutoff, cutoff],
    )
    return [ArticleUsage(**{**r, "last_suggested": from_db(r["last_suggested"])}) for r in found]


@dataclass(frozen=True)
class OpenQuestion:
    """A knowledge gap in the gap queue: a caller question no approved article answered (the
    search abstained, or the suggested article was rated not helpful), grouped by wording.

    The rule (the Knowledge page states it): every answer an agent marked Not helpful is listed,
    always - a person judged it. An abstention (no approved answer) is listed unless the day's
    stored digest put its call in a topic it does not flag as a knowledge gap
    (`assistant.digest.build.Topic.is_gap`: most of that topic's callers got an approved answer, so
    the article exists and this wording missed it). Calls of days without a stored digest count
    until the digest judges them.

    Attributes:
        query: the question (redacted, in the agent's language when translated).
        count: how many times it went unanswered.
        last_seen: when it last did.
        topic_id: the digest topic of those calls (a flagged gap), None when in no topic or not
            yet in a digest.
        topic_label: that topic's label.
    """

    query: str
    count: int
    last_seen: datetime | None
    topic_id: str | None = None
    topic_label: str | None = None


def open_questions(con: Connection, limit: int = 50) -> list[OpenQuestion]:
    """The gap queue (see `OpenQuestion`), most frequent first."""
    if limit < 1:
        raise InputError(f"limit must be at least 1, not {limit}")
    found = rows(
        con,
        """
        WITH q AS (
            SELECT s.call_id, s.query_text AS q, s.created_at AS t, false AS marked FROM suggestions s
            JOIN calls c ON c.call_id = s.call_id WHERE s.abstained AND s.query_text IS NOT NULL
            UNION ALL
            SELECT s.call_id, s.query_text, f.created_at, true FROM feedback f
            JOIN suggestions s ON s.suggestion_id = f.suggestion_id
            WHERE f.kind = 'not_helpful' AND s.query_text IS NOT NULL
        ), judged AS (
            SELECT dc.call_id, bool_or(dt.knowledge_gap) AS gap,
                   min(dt.topic_id) FILTER (WHERE dt.knowledge_gap) AS topic_id
            FROM digest_calls dc
            JOIN digest_topics dt ON dt.digest_date = dc.digest_date AND dt.topic_id = dc.topic_id
            GROUP BY dc.call_id
        ), labelled AS (
            SELECT q.q, q.t, j.topic_id, (
                SELECT dt.label FROM digest_topics dt WHERE dt.topic_id = j.topic_id
                ORDER BY dt.digest_date DESC LIMIT 1
            ) AS topic_label
            FROM q LEFT JOIN judged j ON j.call_id = q.call_id
            WHERE q.marked OR coalesce(j.gap, true)
        )
        SELECT arg_max(q, t) AS query, count(*) AS count, max(t) AS last_seen,
               arg_max(topic_id, t) AS topic_id, arg_max(topic_label, t) AS topic_label
        FROM labelled GROUP BY lower(trim(q)) ORDER BY count DESC, last_seen DESC, query LIMIT ?
        """,
        [limit],
    )
    return [
        OpenQuestion(r["query"], int(r["count"]), from_db(r["last_seen"]), r["topic_id"], r["topic_label"])
        for r in found
    ]


__all__ = [
    "ArticleUsage",
    "OpenQuestion",
    "DigestTopic",
    "RegisteredTopic",
    "StoredDigest",
    "article_usage",
    "calls_for_day",
    "digest_calls",
    "get_digest",
    "list_digest_dates",
    "open_questions",
    "registered_topics",
    "save_digest",
]
