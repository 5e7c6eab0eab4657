"""Scoring many stored calls: one call, a day, or every call whose scorecard changed."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assistant import config, storage
from assistant.quality.after_call import call_vectors, dequantize
from assistant.quality.meaning import shared_embedder
from assistant.quality.scorecards import Scorecard, load_scorecards
from assistant.quality.scoring import CallScore, Line, bank_for, score_call
from assistant.storage import quality as qstore

if TYPE_CHECKING:
    from assistant.protocols import Embedder


def calls_between(con: Any, since: datetime, until: datetime) -> list[str]:
    return qstore.call_ids_between(con, since, until)


def score_calls(
    con: Any, card: Scorecard, call_ids: Sequence[str], embedder: Embedder | None = None, chunk: int = 1000
) -> list[CallScore]:
    """Score stored calls against one scorecard and keep the answers. Utterance vectors stored at
    call end are reused; a call without them is embedded now (and they are stored). Reads and
    writes go a chunk of calls at a time."""
    import numpy as np

    embedder = embedder or shared_embedder()
    bank = bank_for(card, embedder)
    out: list[CallScore] = []
    for at in range(0, len(call_ids), chunk):
        ids = list(call_ids[at : at + chunk])
        stored = qstore.vectors_for(con, ids, embedder.model_name)
        texts = qstore.lines_for(con, ids)
        todo: list[tuple[str, list[Line], list[Any]]] = []
        for call_id in ids:
            if call_id not in texts:
                continue
            lines = [Line(*x) for x in texts[call_id]]
            have = stored.get(call_id, {})
            if len(have) == len(lines):
                vectors = [dequantize(*have[i]) for i in range(len(lines))]
            else:
                call = storage.get_call(con, call_id)
                if call is None:
                    continue
                vectors = call_vectors(con, call, embedder, have)
            todo.append((call_id, lines, vectors))
        # One matching pass over every piece of the chunk (a per-call pass is mostly overhead).
        pieces = [v for _, _, vectors in todo for v in vectors if len(v)]
        every = bank.strengths(np.vstack(pieces)) if pieces else np.zeros((0, len(bank.ids)))
        done: list[CallScore] = []
        at_piece = 0
        for call_id, lines, vectors in todo:
            n = sum(len(v) for v in vectors)
            mine = every[at_piece : at_piece + n]
            at_piece += n
            done.append(score_call(call_id, card, lines, vectors, bank, mine))
        qstore.save_scores_many(con, [{**s.to_stored(), "call_id": s.call_id} for s in done])
        out += done
    return out


def rescore_changed(con: Any, embedder: Embedder | None = None) -> dict[str, int]:
    """For each scorecard in `scorecards_dir`: re-score the calls scored with an older version."""
    done: dict[str, int] = {}
    for card in load_scorecards(config.get().scorecards_dir):
        stale = qstore.stale_scores(con, card.id, card.fingerprint)
        done[card.id] = len(score_calls(con, card, stale, embedder)) if stale else 0
    return done
