"""Agreement of scorecard answers with a gold file (`qa-dev` layout: calls JSONL in the ingest
format, a scorecard, `gold.json` = {call_id: {question: {"answer", "evidence_start"}}})."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import InputError
from assistant.quality.scorecards import load_scorecard
from assistant.quality.scoring import Line, bank_for, embed_lines, score_call

if TYPE_CHECKING:
    from assistant.protocols import Embedder
    from assistant.quality.scoring import CallScore


@dataclass(frozen=True)
class Agreement:
    """answers: (question, call) pairs compared; agree: same yes/no; evidence: gold answers with an
    evidence utterance; evidence_right: ours points at the same utterance (same start)."""

    answers: int
    agree: int
    evidence: int
    evidence_right: int
    misses: tuple[str, ...]

    @property
    def agreement(self) -> float:
        return self.agree / self.answers if self.answers else 0.0

    @property
    def evidence_rate(self) -> float:
        return self.evidence_right / self.evidence if self.evidence else 0.0


def read_calls(path: Path) -> dict[str, list[Line]]:
    calls: dict[str, list[Line]] = {}
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            data = json.loads(raw)
            calls[str(data["call_id"])] = [
                Line(u.get("speaker", "unknown"), u.get("start"), u["text"]) for u in data["utterances"]
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}:{n}: not a call in the ingest format ({exc})") from None
    return calls


def score_folder(folder: Path, embedder: Embedder, scorecard: Path | None = None) -> list[CallScore]:
    card = load_scorecard(scorecard or folder / "scorecard.yaml")
    bank = bank_for(card, embedder)
    out = []
    for call_id, lines in read_calls(folder / "calls.jsonl").items():
        out.append(score_call(call_id, card, lines, embed_lines([x.text for x in lines], embedder), bank))
    return out


def agreement(scores: list[CallScore], gold: dict[str, dict[str, dict[str, object]]]) -> Agreement:
    answers = agree = evidence = right = 0
    misses = []
    for s in scores:
        for a in s.answers:
            want = gold.get(s.call_id, {}).get(a.question)
            if want is None:
                continue
            answers += 1
            if a.answer == want["answer"]:
                agree += 1
            else:
                misses.append(f"{s.call_id}/{a.question}: {a.answer}, gold {want['answer']}")
            start = want.get("evidence_start")
            if start is not None:
                evidence += 1
                got = a.evidence.start if a.evidence is not None else None
                if got is not None and abs(float(got) - float(start)) < 0.01:  # type: ignore[arg-type]
                    right += 1
    return Agreement(answers, agree, evidence, right, tuple(misses))


def evaluate(folder: str | Path, embedder: Embedder, scorecard: Path | None = None) -> Agreement:
    base = Path(folder)
    gold = json.loads((base / "gold.json").read_text(encoding="utf-8"))
    return agreement(score_folder(base, embedder, scorecard), gold)
