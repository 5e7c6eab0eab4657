"""The one call-end step of quality review, for batch and live calls alike.

`after_call(con, call_id)` reads the finished call as stored (utterances: speaker, start, end,
redacted text) and keeps with it: its metrics, its answers to every scorecard in `scorecards_dir`,
and the wrap-up codes suggested from what the caller needed (when `wrapup_codes` names a file).
`speech` (per speaker, the voice-activity spans of a stereo recording) makes the metrics exact;
without it the utterance spans are used. It never changes the call itself.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant import config, storage
from assistant.errors import AssistantError
from assistant.quality import wrapup
from assistant.quality.meaning import MODEL_NAME, shared_embedder
from assistant.quality.metrics import call_metrics
from assistant.quality.scorecards import Scorecard, load_scorecards
from assistant.quality.scoring import CallScore, Line, bank_for, embed_lines, score_call
from assistant.storage import quality as qstore

if TYPE_CHECKING:
    import numpy as np

    from assistant.protocols import Embedder
    from assistant.quality import wrapup
from assistant.quality.meaning import PhraseBank

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AfterCall:
    """What `after_call` stored: metrics (None when the call has no timing), scores, wrap-up codes."""

    call_id: str
    metrics: Mapping[str, Any] | None
    scores: tuple[CallScore, ...]
    wrapup: tuple[str, ...]
    notes: tuple[str, ...] = ()


def lines_of(call: Any) -> list[Line]:
    return [Line(u.speaker, u.start, u.text) for u in call.utterances]


def metrics_of(
    call: Any, speech: Mapping[str, Sequence[tuple[float, float]]] | None
) -> dict[str, Any] | None:
    words: dict[str, int] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for u in call.utterances:
        words[u.speaker] = words.get(u.speaker, 0) + len(u.text.split())
        if u.start is not None and u.end is not None:
            spans.setdefault(u.speaker, []).append((u.start, u.end))
    if speech:
        found = call_metrics(speech, call.duration, words, source="voice activity")
    elif spans:
        found = call_metrics(spans, call.duration, words, source="utterances")
    else:
        return None
    return found.to_json()


def quantize(vectors: np.ndarray) -> bytes:
    import numpy as np

    return np.clip(np.rint(vectors * 127), -127, 127).astype(np.int8).tobytes()


def dequantize(n: int, blob: bytes) -> np.ndarray:
    import numpy as np

    return np.frombuffer(blob, dtype=np.int8).reshape(n, -1).astype(np.float32) / 127.0


def call_vectors(
    con: Any, call: Any, embedder: Embedder, stored: Mapping[int, tuple[int, bytes]] | None = None
) -> list[np.ndarray]:
    """The call's piece vectors: stored ones, else embedded now and stored."""
    if stored is None:
        stored = qstore.vectors_for(con, [call.call_id], embedder.model_name)[call.call_id]
    if call.utterances and len(stored) == len(call.utterances):
        return [dequantize(*stored[i]) for i in range(len(call.utterances))]
    vectors = embed_lines([u.text for u in call.utterances], embedder)
    qstore.save_vectors(
        con, call.call_id, embedder.model_name, [(i, len(v), quantize(v)) for i, v in enumerate(vectors)]
    )
    return [dequantize(len(v), quantize(v)) for v in vectors]


def score_stored(
    con: Any, call: Any, cards: Sequence[tuple[Scorecard, PhraseBank]], embedder: Embedder
) -> list[CallScore]:
    """Score one stored call against each (scorecard, phrase bank) and keep the answers."""
    vectors = call_vectors(con, call, embedder)
    lines = lines_of(call)
    scores = [score_call(call.call_id, card, lines, vectors, bank) for card, bank in cards]
    qstore.save_scores(con, call.call_id, [s.to_stored() for s in scores])
    return scores


def after_call(
    con: Any,
    call_id: str,
    *,
    speech: Mapping[str, Sequence[tuple[float, float]]] | None = None,
    embedder: Embedder | None = None,
    scorecards: Sequence[Scorecard] | None = None,
) -> AfterCall | None:
    """Metrics, scorecard answers and wrap-up suggestions for one stored call (None: not stored).

    A missing encoder or a broken scorecard file is logged and noted, never raised: the call is
    already stored and stays so."""
    call = storage.get_call(con, call_id)
    if call is None:
        return None
    notes: list[str] = []
    metrics = metrics_of(call, speech)
    if metrics is not None:
        qstore.save_metrics(con, call.call_id, metrics, dict(speech) if speech else None)
    scores: list[CallScore] = []
    codes: tuple[str, ...] = ()
    try:
        cards = list(scorecards) if scorecards is not None else load_scorecards(config.get().scorecards_dir)
        code_list = wrapup.configured_codes()
        if (cards or code_list) and call.utterances:
            embedder = embedder or shared_embedder()
            if cards:
                scores = score_stored(con, call, [(c, bank_for(c, embedder)) for c in cards], embedder)
            if code_list:
                codes = wrapup.suggest_for_call(con, call, code_list, embedder)
    except AssistantError as exc:
        log.warning("quality review of call %s skipped: %s", call.call_id, exc)
        notes.append(str(exc))
    return AfterCall(call.call_id, metrics, tuple(scores), codes, tuple(notes))


__all__ = ["MODEL_NAME", "AfterCall", "after_call", "call_vectors", "score_stored"]
