"""After-call work kept with a call: scorecard answers, call metrics, wrap-up codes, and the
utterance vectors scoring reads (so a changed scorecard is re-scored without re-embedding).

Tables come from migration 7 (`QUALITY_SCHEMA`); every row is keyed by call_id and goes with the
call on `delete_call` (see `CALL_TABLES`). Text (evidence) passes the privacy gate on the way in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

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

QUALITY_TABLES = ("quality_scores", "call_metrics", "call_wrapup", "utterance_vectors")


def _ids(call_ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(call_ids))


# ---------------------------------------------------------------- scores


def save_scores(con: Connection, call_id: str, scores: Sequence[Mapping[str, Any]]) -> None:
    """Replace a call's answers for each scorecard given (`{"scorecard", "fingerprint", "score",
    "max_score", "answers"}`); answers for other scorecards stay."""
    save_scores_many(con, [{**s, "call_id": call_id} for s in scores])


def _stored_answers(answers: Sequence[Mapping[str, Any]]) -> str | None:
    """Answers as kept: evidence by utterance index, start and speaker; its text is the stored
    utterance's, joined when read (so no copy of call text is kept here)."""
    kept = []
    for a in answers:
        ev = a.get("evidence")
        if ev is not None:
            ev = {
                "utterance_idx": int(ev["utterance_idx"]),
                "start": ev.get("start"),
                "speaker": ev.get("speaker"),
            }
        kept.append({"question": a["question"], "answer": a["answer"], "evidence": ev})
    return dumps_json(kept)


def save_scores_many(con: Connection, scores: Sequence[Mapping[str, Any]]) -> None:
    """Replace the answers of many calls at once, one transaction and two statements (a day of
    calls is re-scored in seconds). Each item: `call_id`, `scorecard`, `fingerprint`, `score`,
    `max_score`, `answers` (evidence with `utterance_idx`)."""
    if not scores:
        return
    columns = [
        [s["call_id"] for s in scores],
        [s["scorecard"] for s in scores],
        [s["fingerprint"] for s in scores],
        [float(s["score"]) for s in scores],
        [float(s["max_score"]) for s in scores],
        [_stored_answers(s["answers"]) for s in scores],
    ]
    with transaction(con):
        con.execute(
            "DELETE FROM quality_scores WHERE call_id || chr(0) || scorecard_id IN (SELECT unnest(?))",
            [[f"{c}\0{k}" for c, k in zip(columns[0], columns[1], strict=True)]],
        )
        con.execute(
            "INSERT INTO quality_scores SELECT unnest(?), unnest(?), unnest(?), unnest(?), unnest(?), "
            "unnest(?)::JSON, ?",
            [*columns, to_db(now())],
        )


def scores_for(
    con: Connection, call_ids: Iterable[str], scorecard: str | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Stored answers per call: `{"call_id", "scorecard", "fingerprint", "score", "max_score",
    "answers", "scored_at"}` each, by scorecard id; evidence carries the utterance's stored text."""
    ids = _ids(call_ids)
    out: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if not ids:
        return out
    sql = (
        "SELECT call_id, scorecard_id AS scorecard, fingerprint, score, max_score, answers, scored_at "
        "FROM quality_scores WHERE call_id IN (SELECT unnest(?))"
    )
    params: list[Any] = [ids]
    if scorecard is not None:
        sql += " AND scorecard_id = ?"
        params.append(scorecard)
    found = rows(con, sql + " ORDER BY call_id, scorecard_id", params)
    texts = {
        (c, int(i)): t
        for c, i, t in con.execute(
            "SELECT call_id, idx, text FROM utterances WHERE call_id IN (SELECT unnest(?))", [ids]
        ).fetchall()
    }
    for row in found:
        row["answers"] = loads_json(row["answers"])
        for a in row["answers"]:
            ev = a.get("evidence")
            if ev is not None:
                ev["text"] = texts.get((row["call_id"], ev["utterance_idx"]), "")
        row["scored_at"] = from_db(row["scored_at"]).isoformat()
        out[row["call_id"]].append(row)
    return out


def call_ids_between(con: Connection, since: datetime, until: datetime) -> list[str]:
    """Calls started in [since, until), oldest first."""
    found = con.execute(
        "SELECT call_id FROM calls WHERE started_at >= ? AND started_at < ? ORDER BY started_at, call_id",
        [to_db(since), to_db(until)],
    ).fetchall()
    return [c for (c,) in found]


def lines_for(con: Connection, call_ids: Iterable[str]) -> dict[str, list[tuple[str, float | None, str]]]:
    """(speaker, start, text) of each stored call's utterances in order, for many calls at once."""
    ids = _ids(call_ids)
    out: dict[str, list[tuple[str, float | None, str]]] = {}
    if not ids:
        return out
    found = con.execute(
        "SELECT call_id, speaker, start_s, text FROM utterances WHERE call_id IN (SELECT unnest(?)) "
        "ORDER BY call_id, idx",
        [ids],
    ).fetchall()
    for call_id, speaker, start, text in found:
        out.setdefault(call_id, []).append((speaker, start, text))
    return out


def stale_scores(con: Connection, scorecard: str, fingerprint: str) -> list[str]:
    """Calls scored against an older version of a scorecard."""
    found = con.execute(
        "SELECT call_id FROM quality_scores WHERE scorecard_id = ? AND fingerprint <> ? ORDER BY call_id",
        [scorecard, fingerprint],
    ).fetchall()
    return [c for (c,) in found]


# ---------------------------------------------------------------- metrics


def save_metrics(
    con: Connection, call_id: str, metrics: Mapping[str, Any], speech: Mapping[str, Any] | None = None
) -> None:
    """Replace a call's metrics (and the speech timing they came from, to recompute them)."""
    with transaction(con):
        con.execute("DELETE FROM call_metrics WHERE call_id = ?", [call_id])
        con.execute(
            "INSERT INTO call_metrics VALUES (?, ?, ?, ?)",
            [
                call_id,
                dumps_json(dict(metrics)),
                dumps_json(None if speech is None else dict(speech)),
                to_db(now()),
            ],
        )


def metrics_for(con: Connection, call_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(metrics, speech timing) of a call, each None when not stored."""
    found = con.execute("SELECT metrics, speech FROM call_metrics WHERE call_id = ?", [call_id]).fetchone()
    if found is None:
        return None, None
    return loads_json(found[0]), loads_json(found[1])


# ---------------------------------------------------------------- utterance vectors


def save_vectors(
    con: Connection, call_id: str, model: str, vectors: Sequence[tuple[int, int, bytes]]
) -> None:
    """Replace a call's utterance vectors: (utterance idx, pieces, int8 bytes) each."""
    with transaction(con):
        con.execute("DELETE FROM utterance_vectors WHERE call_id = ?", [call_id])
        if vectors:
            con.executemany(
                "INSERT INTO utterance_vectors VALUES (?, ?, ?, ?, ?)",
                [[call_id, idx, model, n, blob] for idx, n, blob in vectors],
            )


def vectors_for(
    con: Connection, call_ids: Iterable[str], model: str
) -> dict[str, dict[int, tuple[int, bytes]]]:
    """Stored vectors by call and utterance idx: (pieces, int8 bytes)."""
    ids = _ids(call_ids)
    out: dict[str, dict[int, tuple[int, bytes]]] = {i: {} for i in ids}
    if not ids:
        return out
    found = con.execute(
        "SELECT call_id, idx, pieces, vec FROM utterance_vectors WHERE model = ? AND call_id IN (SELECT unnest(?))",
        [model, ids],
    ).fetchall()
    for call_id, idx, n, blob in found:
        out[call_id][int(idx)] = (int(n), bytes(blob))
    return out


# ---------------------------------------------------------------- wrap-up codes


def save_wrapup_suggestion(
    con: Connection, call_id: str, suggested: Sequence[str], model: str | None, need: bytes | None
) -> None:
    """Store the codes suggested at call end (a code already chosen stays chosen)."""
    with transaction(con):
        found = con.execute("SELECT 1 FROM call_wrapup WHERE call_id = ?", [call_id]).fetchone()
        if found is None:
            con.execute(
                "INSERT INTO call_wrapup VALUES (?, ?, NULL, NULL, NULL, ?, ?, ?)",
                [call_id, dumps_json(list(suggested)), model, need, to_db(now())],
            )
        else:
            con.execute(
                "UPDATE call_wrapup SET suggested = ?, model = ?, need = ?, suggested_at = ? WHERE call_id = ?",
                [dumps_json(list(suggested)), model, need, to_db(now()), call_id],
            )


def choose_wrapup(con: Connection, call_id: str, code: str, user: str) -> None:
    """Record the code the agent confirmed (replacing an earlier choice)."""
    with transaction(con):
        found = con.execute("SELECT 1 FROM call_wrapup WHERE call_id = ?", [call_id]).fetchone()
        if found is None:
            con.execute(
                "INSERT INTO call_wrapup VALUES (?, '[]', ?, ?, ?, NULL, NULL, ?)",
                [call_id, code, user, to_db(now()), to_db(now())],
            )
        else:
            con.execute(
                "UPDATE call_wrapup SET chosen = ?, chosen_by = ?, chosen_at = ? WHERE call_id = ?",
                [code, user, to_db(now()), call_id],
            )


def wrapups_for(con: Connection, call_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`{"suggested": [codes], "chosen": code | None}` per call that has a row."""
    ids = _ids(call_ids)
    if not ids:
        return {}
    found = con.execute(
        "SELECT call_id, suggested, chosen FROM call_wrapup WHERE call_id IN (SELECT unnest(?))", [ids]
    ).fetchall()
    return {c: {"suggested": loads_json(s) or [], "chosen": chosen} for c, s, chosen in found}


def confirmed_wrapups(
    con: Connection, model: str, exclude: str | None = None
) -> list[tuple[str, str, bytes]]:
    """(call_id, chosen code, need vector) of every confirmed call embedded with `model`."""
    found = con.execute(
        "SELECT call_id, chosen, need FROM call_wrapup WHERE chosen IS NOT NULL AND need IS NOT NULL "
        "AND model = ? AND call_id <> ? ORDER BY chosen_at",
        [model, exclude or ""],
    ).fetchall()
    return [(c, code, bytes(need)) for c, code, need in found]


def quality_view(con: Connection, call_id: str) -> dict[str, Any]:
    """Everything after-call about one call: `{"scores", "metrics", "wrapup"}` (as `GET /calls/{id}`
    carries them; scores without the fingerprint)."""
    scores = [
        {k: v for k, v in s.items() if k not in {"call_id", "fingerprint"}}
        for s in scores_for(con, [call_id]).get(call_id, [])
    ]
    for s in scores:
        for a in s["answers"]:
            if a.get("evidence"):
                a["evidence"].pop("utterance_idx", None)
    metrics, _ = metrics_for(con, call_id)
    wrapup = wrapups_for(con, [call_id]).get(call_id, {"suggested": [], "chosen": None})
    return {"scores": scores, "metrics": metrics, "wrapup": wrapup}
