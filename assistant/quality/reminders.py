"""Live compliance reminders: a required question still unanswered near its window's end.

A question with `within_s` (the recording disclosure within 60 s) is due a reminder once the call
has run `lead` of its window (45 s of 60 with the default 0.75) and nothing the question's speaker
said so far means what its phrases mean. Each question is reminded of at most once per call.

`ComplianceWatch` holds one call's state: `said(speaker, text, start)` for each final (redacted)
utterance, `due(elapsed)` on the call's clock. The live session is not wired to it yet (the
console's agent page would show `due`'s reminders in a polite live region).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assistant.quality.meaning import PhraseBank, pieces

if TYPE_CHECKING:
    from assistant.protocols import Embedder
    from assistant.quality.scorecards import Question, Scorecard

LEAD = 0.75


@dataclass
class ComplianceWatch:
    """One live call's open window questions across the scorecards given."""

    cards: Sequence[Scorecard]
    embedder: Embedder
    lead: float = LEAD
    _open: list[tuple[str, Question]] = field(default_factory=list)
    _reminded: set[tuple[str, str]] = field(default_factory=set)
    _banks: dict[str, PhraseBank] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for card in self.cards:
            timed = [q for q in card.questions if q.within_s is not None and q.expect == "any"]
            if timed:
                self._banks[card.id] = PhraseBank({q.id: q.phrases for q in card.questions}, self.embedder)
                self._open += [(card.id, q) for q in timed]

    @property
    def open_questions(self) -> list[str]:
        return [f"{card}/{q.id}" for card, q in self._open]

    def said(self, speaker: str, text: str, start: float | None) -> None:
        """An utterance was final: close every open question it answers in time."""
        if not self._open or not text.strip():
            return
        vectors = self.embedder.embed(pieces(text))
        keep = []
        for card, q in self._open:
            bank = self._banks[card]
            in_time = start is None or q.within_s is None or start <= q.within_s
            speaks = q.speaker == "any" or q.speaker == speaker
            hit = in_time and speaks and bool(bank.matches(vectors)[:, bank.ids.index(q.id)].any())
            if not hit:
                keep.append((card, q))
        self._open = keep

    def due(self, elapsed: float) -> list[dict[str, Any]]:
        """Reminders to show now: `{"scorecard", "question", "text", "window_end_s"}` each, once."""
        out = []
        for card, q in self._open:
            end = float(q.within_s or 0.0)
            key = (card, q.id)
            if key in self._reminded or not (self.lead * end <= elapsed < end):
                continue
            self._reminded.add(key)
            out.append({"scorecard": card, "question": q.id, "text": q.text, "window_end_s": end})
        return out
