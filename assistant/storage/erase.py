"""Deleting calls everywhere, digests included (a request to delete, and retention).

A stored digest names its calls (`daily_digests.payload` lists each topic's call ids, and
`digest_calls` maps calls to topics) and quotes a few callers (`payload` and `digest_topics.quotes`).
When a call goes, its id leaves both, and a quote stays only where it can still be found in the
text of a call of that topic that remains (the quote of a deleted call goes; a quote that cannot be
traced to a remaining call goes too: fail closed). A topic label in words no remaining call says
(not an article's title) is replaced. Counts and shares are the day's aggregates and stay. Use it
through `assistant.storage`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from assistant.privacy.gate import safe_id
from assistant.storage.calls import CALL_TABLES
from assistant.storage.schema import Connection, dumps_json, loads_json, to_db, transaction

_ELLIPSIS = "…"  # what the digest puts at the end of a shortened quote


def delete_call(con: Connection, call_id: str) -> bool:
    """Delete a call with everything about it: its rows in every call table, its id and quotes in
    the stored digests. True if it existed."""
    return bool(delete_calls(con, [call_id]))


def delete_calls(con: Connection, call_ids: Iterable[str]) -> list[str]:
    """Delete calls (see `delete_call`) in one transaction; returns the ids that existed. The
    digests are scrubbed once per day, however many of its calls go (retention)."""
    ids = sorted({safe_id(c) for c in call_ids})
    if not ids:
        return []
    with transaction(con):
        existed = sorted(
            str(c)
            for (c,) in con.execute(
                "SELECT call_id FROM calls WHERE call_id IN (SELECT unnest(?))", [ids]
            ).fetchall()
        )
        members = _digest_members(con, ids)
        for table in CALL_TABLES:
            con.execute(f"DELETE FROM {table} WHERE call_id IN (SELECT unnest(?))", [ids])
        _scrub_digests(con, set(ids), members)
    return existed


def calls_started_before(con: Connection, before: datetime) -> list[str]:
    """Ids of stored calls that started before `before` (retention), oldest first; live ones excluded."""
    found = con.execute(
        "SELECT call_id FROM calls WHERE started_at < ? AND status <> 'live' ORDER BY started_at",
        [to_db(before)],
    ).fetchall()
    return [str(r[0]) for r in found]


def strip_digest_quotes(con: Connection, before: datetime, dry_run: bool = False) -> int:
    """Digests of days before `before` keep their counts only: caller quotes, call ids and labels
    in a caller's words are removed, from the topics and from the stored payload (as if all their
    calls were deleted). Returns the number of topics that held quotes."""
    day = to_db(before).date()
    found = con.execute(
        "SELECT count(*) FROM digest_topics WHERE digest_date < ? AND quotes IS NOT NULL "
        "AND CAST(quotes AS VARCHAR) <> '[]'",
        [day],
    ).fetchone()
    if not dry_run:
        with transaction(con):
            con.execute("DELETE FROM digest_calls WHERE digest_date < ?", [day])
            for digest_date, payload in con.execute(
                "SELECT digest_date, payload FROM daily_digests WHERE digest_date < ?", [day]
            ).fetchall():
                held = {
                    topic_id
                    for (topic_id,) in con.execute(
                        "SELECT topic_id FROM digest_topics WHERE digest_date = ? "
                        "AND CAST(quotes AS VARCHAR) <> '[]'",
                        [digest_date],
                    ).fetchall()
                }
                topics = (loads_json(payload) or {}).get("topics") or []
                if held or any(t.get("quotes") or t.get("call_ids") for t in topics):  # not scrubbed yet
                    _scrub_day(con, digest_date, held, gone=None)
    return int(found[0]) if found else 0


# ---------------------------------------------------------------- scrubbing one day's digest


def _digest_members(con: Connection, ids: Sequence[str]) -> dict[date, dict[str, set[str]]]:
    """Day -> topic -> ids (of `ids`) that a stored digest counts in it: from `digest_calls`, and
    from any payload that names one of them (older digests may lack the rows)."""
    out: dict[date, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    wanted = set(ids)
    for day, topic, call_id in con.execute(
        "SELECT digest_date, topic_id, call_id FROM digest_calls WHERE call_id IN (SELECT unnest(?))", [ids]
    ).fetchall():
        out[day][topic].add(call_id)
    # A cheap text filter first (the payload is JSON text), then the parsed lists decide.
    for day, payload in con.execute(
        "SELECT digest_date, payload FROM daily_digests "
        'WHERE list_has_any(?, regexp_extract_all(CAST(payload AS VARCHAR), \'"([^"\\\\]+)"\', 1))',
        [ids],
    ).fetchall():
        for t in (loads_json(payload) or {}).get("topics") or []:
            hit = wanted & set(t.get("call_ids") or ())
            if hit:
                out[day][str(t.get("topic_id"))] |= hit
    return out


NO_LABEL = "(label removed with its deleted calls)"


def _scrub_digests(con: Connection, gone: set[str], members: dict[date, dict[str, set[str]]]) -> None:
    for day, topics in members.items():
        _scrub_day(con, day, set(topics), gone)


def _scrub_day(con: Connection, day: date, topic_ids: set[str], gone: set[str] | None) -> None:
    """Take the calls `gone` (None: every call) out of these topics of a day's digest: their ids,
    the quotes no remaining call of the topic says, and a label in words no remaining call says
    (a label that is an article's title stays)."""
    row = con.execute(
        "SELECT payload, digest_text FROM daily_digests WHERE digest_date = ?", [day]
    ).fetchone()
    data = (loads_json(row[0]) if row else None) or {}
    payload_topics = {str(t.get("topic_id")): t for t in data.get("topics") or []}
    relabelled: dict[str, str] = {}
    for topic_id in sorted(topic_ids | (set(payload_topics) if gone is None else set())):
        in_payload = payload_topics.get(topic_id) or {}
        kept_ids = [c for c in in_payload.get("call_ids") or () if gone is not None and c not in gone]
        rows = con.execute(
            "SELECT call_id FROM digest_calls WHERE digest_date = ? AND topic_id = ?", [day, topic_id]
        ).fetchall()
        texts = _call_texts(con, sorted(set(kept_ids) | {c for (c,) in rows}))
        stored = con.execute(
            "SELECT label, quotes FROM digest_topics WHERE digest_date = ? AND topic_id = ?", [day, topic_id]
        ).fetchone()
        label, quotes = (stored[0], loads_json(stored[1]) or []) if stored else (in_payload.get("label"), [])
        quotes = [q for q in quotes if _traced(q, texts)]
        if label and not in_payload.get("article_id") and not _label_traced(label, texts):
            relabelled[label] = shorten_label(quotes[0]) if quotes else NO_LABEL
            label = relabelled[label]
        if stored is not None:
            con.execute(
                "UPDATE digest_topics SET label = ?, quotes = ? WHERE digest_date = ? AND topic_id = ?",
                [label, dumps_json(quotes), day, topic_id],
            )
            con.execute(
                "UPDATE topic_registry SET label = ? WHERE topic_id = ? AND label = ?",
                [label, topic_id, stored[0]],
            )
        if in_payload:
            in_payload.update(
                call_ids=kept_ids,
                label=label,
                quotes=[q for q in in_payload.get("quotes") or () if _traced(q, texts)],
            )
    if row is None:
        return
    text = row[1]
    for old, new in relabelled.items():  # the day's summary names its topics by label
        text = text.replace(old, new) if text else text
        if isinstance(data.get("digest_text"), str):
            data["digest_text"] = data["digest_text"].replace(old, new)
    con.execute("UPDATE daily_digests SET digest_text = ? WHERE digest_date = ?", [text, day])
    _save_payload(con, day, data)


def _save_payload(con: Connection, day: date, data: dict[str, Any]) -> None:
    con.execute("UPDATE daily_digests SET payload = ? WHERE digest_date = ?", [dumps_json(data), day])


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _call_texts(con: Connection, call_ids: Sequence[str]) -> list[str]:
    """Every stored text of these calls a digest quote can come from (normalised)."""
    if not call_ids:
        return []
    found = con.execute(
        "SELECT text FROM utterances WHERE call_id IN (SELECT unnest($1)) "
        "UNION ALL SELECT translation FROM utterances WHERE call_id IN (SELECT unnest($1)) "
        "UNION ALL SELECT query_text FROM suggestions WHERE call_id IN (SELECT unnest($1)) "
        "UNION ALL SELECT reason FROM calls WHERE call_id IN (SELECT unnest($1)) "
        "UNION ALL SELECT summary_text FROM calls WHERE call_id IN (SELECT unnest($1))",
        [list(call_ids)],
    ).fetchall()
    return [_norm(t) for (t,) in found if t]


def shorten_label(quote: str, limit: int = 60) -> str:
    """A remaining caller's quote as a label: its first `limit` characters, whole words."""
    text = " ".join(str(quote).split()).removesuffix(_ELLIPSIS)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,;:-") + _ELLIPSIS


def _label_traced(label: str, texts: Sequence[str]) -> bool:
    """Whether a label is said by the remaining calls: as a phrase, or each of its words."""
    if _traced(label, texts):
        return True
    words = re.findall(r"\w+", label.lower())
    joined = " ".join(texts)
    return bool(words) and all(w in joined for w in words)


def _traced(quote: Any, texts: Sequence[str]) -> bool:
    """Whether a quote (possibly shortened) is found in one of `texts`."""
    core = _norm(str(quote)).removesuffix(_ELLIPSIS).rstrip(" ,;:-")
    return bool(core) and any(core in t for t in texts)
