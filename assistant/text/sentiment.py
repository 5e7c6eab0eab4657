"""Caller sentiment per utterance and per call, from the offline VADER lexicon.

VADER was built on social-media text and misreads some contact-center speech: "I've been waiting
three weeks" has no sentiment words, "that fixed it" none either, while "benefits" reads as
praise and "death certificate" as grief. A small phrase lexicon (`DOMAIN_PHRASES`) corrects
these: each phrase is swapped for a made-up token that carries the phrase's valence, so VADER's
own rules (negation, "so", "very", capitals, "!") still apply around it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# (pattern, valence on VADER's -4..+4 scale). Patterns match lower-cased text.
DOMAIN_PHRASES: tuple[tuple[str, float], ...] = (
    # Waiting and being ignored: the most common complaint, with no sentiment word in it.
    (
        r"(?:been|still|keep)\s+waiting(?:\s+(?:for|over|almost|nearly|about))?"
        r"(?:\s+(?:a|an|\w+))?\s+(?:days|weeks|months|years|hours|week|month|year)",
        -2.6,
    ),
    (r"(?:been|still|keep)\s+waiting", -1.8),
    (
        r"(?:nobody|no\s+one|no-one)\s+(?:ever\s+)?(?:calls?|called|gets?|got|getting|rings?)\s+(?:me\s+)?back",
        -2.6,
    ),
    (r"never\s+(?:heard|hear|got|get)\s+(?:anything\s+)?back", -2.4),
    (r"(?:still\s+)?(?:haven't|hasn't|have\s+not|has\s+not)\s+(?:heard|received|gotten|got)", -1.8),
    (r"(?:keep|kept)\s+(?:getting|being)\s+transferred|transferred\s+(?:again|\w+\s+times)", -2.2),
    (r"on\s+hold\s+for(?:\s+\w+){0,2}\s+(?:minutes|hours)", -2.0),
    (r"hung\s+up\s+on\s+me", -2.5),
    (r"(?:speak|talk)\s+(?:to|with)\s+(?:a|your|the)\s+(?:supervisor|manager)", -1.6),
    (r"(?:this|that|it)\s+is\s+ridiculous|(?:this|that|it)'s\s+ridiculous", -2.8),
    (r"run\s?around", -2.2),
    (r"(?:doesn't|does\s+not|don't|isn't|is\s+not|still\s+not)\s+work(?:ing)?", -1.8),
    # Resolution and thanks: VADER reads these as neutral or only mildly positive.
    (r"(?:that|this|it)\s+(?:fixed|solved|sorted|resolved)\s+it", 2.6),
    (r"(?:that|this|it)\s+(?:worked|works)", 2.0),
    (r"(?:it's|it\s+is|that's|that\s+is)\s+(?:fixed|resolved|sorted|working)(?:\s+now)?", 2.4),
    (r"problem\s+solved", 2.4),
    (r"thank\s+you\s+(?:so|very)\s+much|thanks\s+(?:so|very)\s+much", 3.0),
    (r"(?:you've|you\s+have)\s+been\s+(?:a\s+)?(?:great|really|very|so)\s+(?:help|helpful)", 3.0),
    (r"makes\s+sense", 1.2),
    # Fillers and courtesy that VADER scores as praise ("ok" +0.3) but callers say in any mood.
    (r"ok(?:ay)?|alright|all\s+right|yes|yeah|yep|sure|please", 0.0),
    # Programme and document names that are not feelings.
    (r"death\s+certificates?", 0.0),
    (
        r"(?:unemployment|disability|veterans'?|survivor'?s?|child\s+care|food)\s+(?:benefits?|insurance|claim)",
        0.0,
    ),
    (r"benefits?", 0.0),
    (r"unemployment", 0.0),
    (r"tax\s+(?:credit|return|refund)s?", 0.0),
    (r"(?:child|dependent)\s+support", 0.0),
)
_PHRASE_RE = re.compile(
    "|".join(f"(?P<p{i}>\\b(?:{pattern})\\b)" for i, (pattern, _) in enumerate(DOMAIN_PHRASES)),
    re.IGNORECASE,
)
_TOKEN = "ccphrase{}"  # lower-case letters only, so VADER keeps it as one lexicon word
THRESHOLD = 0.05  # VADER's own cut-off between neutral and a polarity


@dataclass(frozen=True)
class Sentiment:
    """Sentiment of one utterance: `label` is negative, neutral or positive; `score` is -1..1."""

    label: str
    score: float


@dataclass(frozen=True)
class Driver:
    """An utterance that moved the call's sentiment most (index among the caller utterances)."""

    index: int
    text: str
    score: float


@dataclass(frozen=True)
class CallSentiment:
    """Sentiment of a call: overall, at its start (first third), at its end (last third)."""

    overall: Sentiment
    start: Sentiment
    end: Sentiment
    drivers: tuple[Driver, ...]

    @property
    def change(self) -> float:
        """End score minus start score: positive when the caller left happier than they came."""
        return round(self.end.score - self.start.score, 4)


def _label(score: float) -> str:
    if score >= THRESHOLD:
        return "positive"
    if score <= -THRESHOLD:
        return "negative"
    return "neutral"


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    for i, (_, valence) in enumerate(DOMAIN_PHRASES):
        analyzer.lexicon[_TOKEN.format(_letters(i))] = valence
    return analyzer


def _letters(i: int) -> str:
    # Digits in the token would be split off by VADER's tokenizer; spell the index in letters.
    return "".join(chr(ord("a") + int(c)) for c in str(i))


def _substitute(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        index = int((m.lastgroup or "p0")[1:])
        return _TOKEN.format(_letters(index))

    return _PHRASE_RE.sub(repl, text)


def utterance_sentiment(text: str) -> Sentiment:
    """Sentiment of one utterance; empty or blank text is neutral (0.0)."""
    if not text or not text.strip():
        return Sentiment("neutral", 0.0)
    compound = float(_analyzer().polarity_scores(_substitute(text))["compound"])
    return Sentiment(_label(compound), round(compound, 4))


def _text_of(utterance: Any) -> str:
    text = utterance if isinstance(utterance, str) else getattr(utterance, "text", "")
    return text or ""


def _mean(scores: Sequence[float]) -> Sentiment:
    if not scores:
        return Sentiment("neutral", 0.0)
    value = round(math.fsum(scores) / len(scores), 4)
    return Sentiment(_label(value), value)


def call_sentiment(utterances: Sequence[Any], max_drivers: int = 3) -> CallSentiment:
    """Sentiment of a call from its caller utterances (strings, or objects with `.text`), in order.

    Start is the first third of the utterances and end the last third (at least one each, so
    with one utterance both are that utterance). Drivers are the utterances that pushed the
    overall label most: the most negative ones for a negative call, the most positive for a
    positive one, the strongest either way for a neutral one.
    """
    texts = [_text_of(u) for u in utterances]
    scores = [utterance_sentiment(t).score for t in texts]
    n = len(scores)
    third = max(1, math.ceil(n / 3)) if n else 0
    overall = _mean(scores)
    if overall.label == "negative":
        ranked = sorted((i for i in range(n) if scores[i] < 0), key=lambda i: (scores[i], i))
    elif overall.label == "positive":
        ranked = sorted((i for i in range(n) if scores[i] > 0), key=lambda i: (-scores[i], i))
    else:
        ranked = sorted((i for i in range(n) if scores[i] != 0), key=lambda i: (-abs(scores[i]), i))
    drivers = tuple(Driver(i, texts[i], scores[i]) for i in ranked[:max_drivers])
    return CallSentiment(
        overall=overall,
        start=_mean(scores[:third]),
        end=_mean(scores[n - third :] if n else []),
        drivers=drivers,
    )
