"""The records `save_call` takes (built by the pipeline) and the rows storage returns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# ---------------------------------------------------------------- input records (built by the pipeline)


@dataclass(frozen=True)
class UtteranceRecord:
    """One utterance to store; its index is its position in `CallRecord.utterances`.

    Attributes:
        speaker: agent, caller or unknown.
        start: seconds from the start of the call.
        end: seconds from the start of the call.
        text: the redacted text in the spoken language.
        language: ISO 639-1 code of `text`.
        translation: the redacted translation into the agent language, if any.
        translation_engine: what translated it (e.g. "argos", "whisper").
        machine_translated: True when `translation` came from a machine.
        sentiment: compound score in [-1, 1].
        sentiment_label: negative, neutral or positive.
    """

    speaker: str
    start: float | None
    end: float | None
    text: str
    language: str | None = None
    translation: str | None = None
    translation_engine: str | None = None
    machine_translated: bool = False
    sentiment: float | None = None
    sentiment_label: str | None = None


@dataclass(frozen=True)
class SuggestionRecord:
    """One knowledge search made during a call; an abstained search is stored too (gaps are counted).

    Attributes:
        query_text: the redacted text that was searched.
        article_id: the suggested article; None when the search abstained.
        article_title: its title when suggested.
        article_version: the article's version date when suggested.
        score: the best similarity score, also for an abstained search.
        abstained: True when no approved answer scored above the threshold.
        utterance_idx: the utterance that triggered the search, if any.
        created_at: when it was suggested; defaults to the time of saving.
    """

    query_text: str
    article_id: str | None
    article_title: str | None = None
    article_version: str | None = None
    score: float | None = None
    abstained: bool = False
    utterance_idx: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True)
class CallRecord:
    """A whole processed call as the pipeline hands it to `save_call`. All text must be redacted.

    Attributes:
        call_id: stable id; saving the same id again replaces the call.
        started_at: when the call started (aware, or naive meaning UTC).
        channel: voice, chat or email.
        source: the recording's path, "live" or "jsonl".
        status: complete, failed (see `error`) or live (still in progress).
        outcome: resolved, follow-up, transferred or unknown.
        summary_json: the structured summary (JSON-serialisable mapping).
        agent_talk_share: agent speaking time / total speaking time, 0..1.
        agent_id: who handled the call, if known.
        utterances: in order; an utterance's index is its position.
        suggestions: in order; suggestion ids are "<call_id>:<position>".
        queue: where the telephony platform routed a live call, if known.
        alerts: what the call raised live, each `{"kind", "at", "detail"}` (redacted text).
    """

    call_id: str
    started_at: datetime
    channel: str
    source: str
    ended_at: datetime | None = None
    language: str | None = None
    language_probability: float | None = None
    duration: float | None = None
    outcome: str = "unknown"
    reason: str | None = None
    summary_text: str | None = None
    summary_json: Mapping[str, Any] | None = None
    sentiment_start: float | None = None
    sentiment_end: float | None = None
    sentiment_overall: float | None = None
    agent_talk_share: float | None = None
    status: str = "complete"
    error: str | None = None
    agent_id: str | None = None
    utterances: tuple[UtteranceRecord, ...] = ()
    suggestions: tuple[SuggestionRecord, ...] = ()
    queue: str | None = None
    alerts: tuple[Mapping[str, Any], ...] = ()
    # Voice activity per speaker of a stereo recording, (start, end) s: not a column; the call-end
    # step (`quality.after_call`) keeps it with the call's metrics.
    speech: Mapping[str, Sequence[tuple[float, float]]] | None = None


# ---------------------------------------------------------------- stored rows (returned)


@dataclass(frozen=True)
class StoredUtterance:
    """An utterance as stored (see `UtteranceRecord`)."""

    call_id: str
    idx: int
    speaker: str
    start: float | None
    end: float | None
    text: str
    language: str | None
    translation: str | None
    translation_engine: str | None
    machine_translated: bool
    sentiment: float | None
    sentiment_label: str | None


@dataclass(frozen=True)
class StoredSuggestion:
    """A suggestion as stored; `article_id` is None when the search abstained."""

    suggestion_id: str
    call_id: str
    utterance_idx: int | None
    article_id: str | None
    article_title: str | None
    article_version: str | None
    score: float | None
    abstained: bool
    query_text: str | None
    created_at: datetime


@dataclass(frozen=True)
class Feedback:
    """An agent's feedback on a suggestion; `article_id` is copied from the suggestion when given."""

    feedback_id: str
    call_id: str
    suggestion_id: str
    article_id: str | None
    kind: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True)
class StoredCall:
    """A call row (see `CallRecord`). `list_calls` leaves the three tuples empty; `get_call` fills them."""

    call_id: str
    started_at: datetime
    ended_at: datetime | None
    channel: str
    source: str
    language: str | None
    language_probability: float | None
    duration: float | None
    outcome: str
    reason: str | None
    summary_text: str | None
    summary_json: Mapping[str, Any] | None
    sentiment_start: float | None
    sentiment_end: float | None
    sentiment_overall: float | None
    agent_talk_share: float | None
    status: str
    error: str | None
    processed_at: datetime
    agent_id: str | None
    utterances: tuple[StoredUtterance, ...] = ()
    suggestions: tuple[StoredSuggestion, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    queue: str | None = None
    alerts: tuple[Mapping[str, Any], ...] = ()
    quality: Mapping[str, Any] | None = None  # after-call work: scores, metrics, wrapup (storage.quality)


@dataclass(frozen=True)
class IngestError:
    """A source that could not be ingested, and why."""

    source: str
    error: str
    created_at: datetime
