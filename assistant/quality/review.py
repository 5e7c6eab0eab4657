"""Scoring many stored calls: one call, a day, or every call whose scorecard changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant import config, storage
from assistant.quality.after_call import call_vectors, lines_of
from assistant.quality.meaning import shared_embedder
from assistant.quality.scorecards import Scorecard, load_scorecards
from assistant.quality.scoring import CallScore, bank_for, score_call
from assistant.storage import quality as qstore
from assistant.storage.schema import to_db

if TYPE_CHECKING:
    from assistant.protocols import Embedder


def calls_between(con: Any, since: datetime, until: datetime) -> list[str]:
    found = con.execute(
        "SELECT call_id FROM calls WHERE started_at >= ? AND started_at < ? ORDER BY started_at, call_id",
        [to_db(since), to_db(until)],
    ).fetchall()
    return [c for (c,) in found]


def score_calls(
    con: Any, card: Scorecard, call_ids: Sequence[str], embedder: Embedder | None = None, chunk: int = 500
) -> list[CallScore]:
    """Score stored calls against one scorecard and keep the answers. Utterance vectors stored at
    call end are reused; a call without them is embedded now (and they are stored)."""
    embedder = embedder or shared_embedder()
    bank = bank_for(card, embedder)
    out: list[CallScore] = []
    for at in range(0, len(call_ids), chunk):
        ids = list(call_ids[at : at + chunk])
        stored = qstore.vectors_for(con, ids, embedder.model_name)
        for call_id in ids:
            call = storage.get_call(con, call_id)
            if call is None:
                continue
            vectors = call_vectors(con, call, embedder, stored.get(call_id))
            out.append(score_call(call.call_id, card, lines_of(call), vectors, bank))
        for s in out[-len(ids) :]:
            qstore.save_scores(con, s.call_id, [s.to_stored()])
    return out


def rescore_changed(con: Any, embedder: Embedder | None = None) -> dict[str, int]:
    """For each scorecard in `scorecards_dir`: re-score the calls scored with an older version."""
    done: dict[str, int] = {}
    for card in load_scorecards(config.get().scorecards_dir):
        stale = qstore.stale_scores(con, card.id, card.fingerprint)
        done[card.id] = len(score_calls(con, card, stale, embedder)) if stale else 0
    return done
