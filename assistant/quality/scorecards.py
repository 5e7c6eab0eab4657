"""Scorecards: YAML files that say what a reviewed call should (or should not) contain.

```yaml
id: standard-call
title: Standard call review
questions:
  - id: recording-disclosure
    text: Did the agent tell the caller the call may be recorded?
    speaker: agent            # agent | caller | any
    within_s: 60              # optional, from the call's start
    any: ["This call may be recorded"]
    weight: 2
  - id: verify-identity
    speaker: agent
    any: ["Can you confirm your date of birth?"]
    before: account-details   # yes only when said before that question's evidence
    weight: 3
  - id: no-blame
    speaker: agent
    none: ["That's not my problem"]   # yes when nothing like it is said
    weight: 2
```

A question has `any` (examples of a meaning that should be said) or `none` (examples of a meaning
that should not be), never both. Every problem with a file is an InputError naming the file and the
question, so `assistant qa score` exits 2 with one clear line.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.errors import InputError

SPEAKER_CHOICES = ("agent", "caller", "any")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_KEYS = {"id", "text", "speaker", "within_s", "any", "none", "weight", "before"}


@dataclass(frozen=True)
class Question:
    """One question of a scorecard.

    Attributes:
        id: unique within the scorecard.
        text: what a reviewer reads.
        speaker: whose utterances count: agent, caller or any.
        phrases: the examples of the meaning (from `any` or `none`).
        expect: "any" (yes when said) or "none" (yes when nothing like it is said).
        within_s: only utterances starting this many seconds from the call's start count.
        before: the id of a question whose evidence this one's must come before.
        weight: points for a yes; 0 is informational.
    """

    id: str
    text: str
    speaker: str
    phrases: tuple[str, ...]
    expect: str
    within_s: float | None = None
    before: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Scorecard:
    """A parsed scorecard; `fingerprint` changes whenever anything that decides an answer does."""

    id: str
    title: str
    questions: tuple[Question, ...]
    source: str = ""

    @property
    def fingerprint(self) -> str:
        body = json.dumps([asdict(q) for q in self.questions], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(f"{self.id}\n{body}".encode()).hexdigest()[:16]


def _fail(where: str, message: str) -> InputError:
    return InputError(f"scorecard {where}: {message}")


def _phrases(value: Any, where: str, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(where, f"'{key}' must be a non-empty list of phrases")
    out = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _fail(where, f"'{key}' holds {item!r}; every phrase must be non-empty text")
        out.append(item.strip())
    return tuple(out)


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise _fail(where, f"'{key}' must be a number of at least 0, got {value!r}")
    return float(value)


def _question(raw: Any, where: str, n: int) -> Question:
    if not isinstance(raw, dict):
        raise _fail(where, f"question {n} must be a mapping, got {type(raw).__name__}")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise _fail(where, f"question {n} needs an 'id' of letters, digits, '-', '_' or '.', got {qid!r}")
    at = f"{where}, question {qid!r}"
    unknown = sorted(set(raw) - _KEYS)
    if unknown:
        raise _fail(at, f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    if ("any" in raw) == ("none" in raw):
        raise _fail(at, "needs exactly one of 'any' (should be said) or 'none' (should not be said)")
    expect = "any" if "any" in raw else "none"
    speaker = raw.get("speaker", "agent")
    if speaker not in SPEAKER_CHOICES:
        raise _fail(at, f"'speaker' must be one of {', '.join(SPEAKER_CHOICES)}, got {speaker!r}")
    text = raw.get("text", qid)
    if not isinstance(text, str):
        raise _fail(at, "'text' must be text")
    within = raw.get("within_s")
    before = raw.get("before")
    if before is not None and not isinstance(before, str):
        raise _fail(at, "'before' must name another question's id")
    if before is not None and expect != "any":
        raise _fail(at, "'before' needs an 'any' question (a 'none' question has no evidence when it passes)")
    return Question(
        id=qid,
        text=text.strip() or qid,
        speaker=speaker,
        phrases=_phrases(raw[expect], at, expect),
        expect=expect,
        within_s=None if within is None else _number(within, at, "within_s"),
        before=before,
        weight=_number(raw.get("weight", 1), at, "weight"),
    )


def parse_scorecard(data: Any, where: str = "<text>") -> Scorecard:
    """A Scorecard from parsed YAML; InputError (naming `where`) for anything malformed."""
    if not isinstance(data, dict):
        raise _fail(where, "must be a mapping with 'id', 'title' and 'questions'")
    card_id = data.get("id")
    if not isinstance(card_id, str) or not _ID.match(card_id):
        raise _fail(where, f"needs an 'id' of letters, digits, '-', '_' or '.', got {card_id!r}")
    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise _fail(where, "needs a non-empty 'questions' list")
    questions = tuple(_question(q, where, n) for n, q in enumerate(raw_questions, start=1))
    ids = [q.id for q in questions]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise _fail(where, f"question id(s) used twice: {', '.join(dupes)}")
    by_id = {q.id: q for q in questions}
    for q in questions:
        if q.before is None:
            continue
        target = by_id.get(q.before)
        if target is None:
            raise _fail(
                where, f"question {q.id!r}: 'before' names no question of this scorecard: {q.before!r}"
            )
        if target.expect != "any" or target.id == q.id:
            raise _fail(where, f"question {q.id!r}: 'before' must name another 'any' question")
        if target.before is not None:
            raise _fail(where, f"question {q.id!r}: 'before' may not chain ({q.before!r} has its own)")
    title = data.get("title", card_id)
    return Scorecard(card_id, str(title), questions, where)


def load_scorecard(path: str | Path) -> Scorecard:
    """Read and check one scorecard file."""
    import yaml

    file = Path(path)
    if not file.is_file():
        raise InputError(f"scorecard {file}: no such file")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"scorecard {file}: not UTF-8 text") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(f"scorecard {file}: not valid YAML{line}") from None
    return parse_scorecard(data, str(file))


def load_scorecards(folder: str | Path) -> list[Scorecard]:
    """Every `*.yaml`/`*.yml` scorecard in a folder (none when the folder does not exist), by id."""
    base = Path(folder)
    if not base.is_dir():
        return []
    cards = [load_scorecard(p) for p in sorted([*base.glob("*.yaml"), *base.glob("*.yml")])]
    seen: dict[str, str] = {}
    for card in cards:
        if card.id in seen:
            raise InputError(f"scorecards {seen[card.id]} and {card.source} both have id {card.id!r}")
        seen[card.id] = card.source
    return cards
