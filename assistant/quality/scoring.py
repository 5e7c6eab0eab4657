"""Answering a scorecard's questions on one finished call, with evidence.

Input is what every finished call has stored, batch or live alike: utterances (speaker, start,
text) and, per utterance, the vectors of its pieces (`meaning.pieces`). Rules:

- `speaker`: agent, caller or any; a call with no utterance of that speaker answers "n/a" (it
  counts neither way: a chat with no agent turn is not the agent's failure).
- `any`: "yes" at the first utterance that means what a phrase means and starts within `within_s`
  of the call's start; else "no".
- `before: X`: "yes" only when that first utterance comes before X's evidence; when X was not
  said the rule holds trivially.
- `none`: "no" at the first utterance that means what a phrase means (its evidence), else "yes".
- score = the weights of the "yes" answers; max_score = the weights of all but "n/a" answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.quality.meaning import PhraseBank, pieces

if TYPE_CHECKING:
    import numpy as np

    from assistant.protocols import Embedder
    from assistant.quality.scorecards import Question, Scorecard


@dataclass(frozen=True)
class Line:
    """An utterance as scoring reads it (stored, so already redacted)."""

    speaker: str
    start: float | None
    text: str


@dataclass(frozen=True)
class Evidence:
    start: float | None
    speaker: str
    text: str
    utterance_idx: int


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str  # yes | no | n/a
    evidence: Evidence | None
    weight: float


@dataclass(frozen=True)
class CallScore:
    """A call's answers to one scorecard (`to_json` is the `qa score --json` item)."""

    call_id: str
    scorecard: str
    fingerprint: str
    score: float
    max_score: float
    answers: tuple[Answer, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "scorecard": self.scorecard,
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "answers": [
                {
                    "question": a.question,
                    "answer": a.answer,
                    "evidence": None
                    if a.evidence is None
                    else {"start": a.evidence.start, "speaker": a.evidence.speaker, "text": a.evidence.text},
                }
                for a in self.answers
            ],
        }

    def to_stored(self) -> dict[str, Any]:
        out = self.to_json()
        out["fingerprint"] = self.fingerprint
        for a, stored in zip(self.answers, out["answers"], strict=True):
            if a.evidence is not None:
                stored["evidence"]["utterance_idx"] = a.evidence.utterance_idx
        return out


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)


def embed_lines(texts: Sequence[str], embedder: Embedder) -> list[np.ndarray]:
    """Each text's piece vectors (one embedder call for the whole call)."""
    cut = [pieces(t) for t in texts]
    flat = embedder.embed([p for ps in cut for p in ps])
    out, at = [], 0
    for ps in cut:
        out.append(flat[at : at + len(ps)])
        at += len(ps)
    return out


def bank_for(card: Scorecard, embedder: Embedder) -> PhraseBank:
    return PhraseBank({q.id: q.phrases for q in card.questions}, embedder)


EVIDENCE = "first"  # "first": the first matching utterance is the evidence; "best": the clearest


def _speaks(line: Line, who: str) -> bool:
    return who == "any" or line.speaker == who


def score_call(
    call_id: str,
    card: Scorecard,
    lines: Sequence[Line],
    vectors: Sequence[np.ndarray],
    bank: PhraseBank,
    strengths: np.ndarray | None = None,
) -> CallScore:
    """Answer every question of `card` for one call; `vectors[i]` are line i's piece vectors.
    `strengths`: `bank.strengths` of these pieces in order, when computed for many calls at once."""
    import numpy as np

    if vectors:
        stacked = np.vstack([v for v in vectors if len(v)]) if any(len(v) for v in vectors) else None
    else:
        stacked = None
    owner = np.concatenate([np.full(len(v), i) for i, v in enumerate(vectors)]) if vectors else np.zeros(0)
    strength = np.full((len(lines), len(bank.ids)), -np.inf, dtype=np.float32)
    if stacked is not None:
        found = bank.strengths(stacked) if strengths is None else strengths
        np.maximum.at(strength, owner.astype(int), found)
    column = {qid: k for k, qid in enumerate(bank.ids)}

    def first_hit(q: Question) -> int | None:
        """The utterance that means it most clearly (the earliest of equals), inside the window."""
        best: int | None = None
        for i, line in enumerate(lines):
            if not _speaks(line, q.speaker) or not np.isfinite(strength[i, column[q.id]]):
                continue
            if q.within_s is not None and line.start is not None and line.start > q.within_s:
                continue
            if EVIDENCE == "first":
                return i
            if best is None or strength[i, column[q.id]] > strength[best, column[q.id]]:
                best = i
        return best

    firsts = {q.id: first_hit(q) for q in card.questions}
    answers = []
    for q in card.questions:
        if not any(_speaks(line, q.speaker) for line in lines):
            answers.append(Answer(q.id, "n/a", None, q.weight))
            continue
        at = firsts[q.id]
        if q.expect == "none":
            answers.append(Answer(q.id, "no" if at is not None else "yes", _evidence(lines, at), q.weight))
            continue
        if at is not None and q.before is not None:
            limit = firsts.get(q.before)
            if limit is not None and not _earlier(lines, at, limit):
                at = None
        answers.append(Answer(q.id, "yes" if at is not None else "no", _evidence(lines, at), q.weight))
    counted = [a for a in answers if a.answer != "n/a"]
    return CallScore(
        call_id,
        card.id,
        card.fingerprint,
        sum(a.weight for a in counted if a.answer == "yes"),
        sum(a.weight for a in counted),
        tuple(answers),
    )


def _earlier(lines: Sequence[Line], i: int, j: int) -> bool:
    a, b = lines[i].start, lines[j].start
    if a is not None and b is not None and a != b:
        return a < b
    return i < j


def _evidence(lines: Sequence[Line], i: int | None) -> Evidence | None:
    if i is None:
        return None
    line = lines[i]
    return Evidence(line.start, line.speaker, line.text, i)
