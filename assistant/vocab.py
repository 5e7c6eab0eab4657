"""The product's vocabularies, declared once: what a stored call, an event or a feedback may say.

Each is a `Literal` type (for pydantic models and mypy) and the tuple of its values (for checks
and SQL constraints), kept in step by `typing.get_args`. Plus the one rule that turns a search
score into the word agents read.
"""

from __future__ import annotations

from typing import Literal, get_args

Channel = Literal["voice", "chat", "email"]
Outcome = Literal["resolved", "follow-up", "transferred", "unknown"]
Status = Literal["complete", "failed", "live", "interrupted"]
# "speaker 1"/"speaker 2": the voices of a diarized mono recording whose roles its words did not tell
Speaker = Literal["agent", "caller", "unknown", "speaker 1", "speaker 2"]
FeedbackKind = Literal["helpful", "not_helpful", "used"]
EventType = Literal["caption", "suggestion", "language", "sentiment", "summary", "status", "alert"]
Confidence = Literal["high", "medium", "low"]
ArticleStatus = Literal["published", "draft", "retired"]
AlertKind = Literal["escalation", "negative_sentiment", "no_answer", "silence", "long_call"]
SentimentTrend = Literal["improving", "steady", "worsening"]

CHANNELS: tuple[Channel, ...] = get_args(Channel)
OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
STATUSES: tuple[Status, ...] = get_args(Status)
SPEAKERS: tuple[Speaker, ...] = get_args(Speaker)
FEEDBACK_KINDS: tuple[FeedbackKind, ...] = get_args(FeedbackKind)
EVENT_TYPES: tuple[EventType, ...] = get_args(EventType)
ARTICLE_STATUSES: tuple[ArticleStatus, ...] = get_args(ArticleStatus)
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)

# Scores are calibrated 0..1 (knowledge/search.py). The live path and the console used 0.75/0.6
# and 0.7/0.5 before; the live path's pair is kept, as it is what agents have seen on suggestions.
HIGH_CONFIDENCE = 0.75
MEDIUM_CONFIDENCE = 0.6


def confidence_word(score: float | None) -> Confidence:
    """What an agent reads instead of a decimal: high, medium or low."""
    value = score or 0.0
    return "high" if value >= HIGH_CONFIDENCE else "medium" if value >= MEDIUM_CONFIDENCE else "low"


def speaker(value: str) -> Speaker:
    """A speaker label from the wire: agent or caller, anything else is unknown."""
    return "agent" if value == "agent" else "caller" if value == "caller" else "unknown"
