"""Every shape of a call the product shows, built once: the call row and detail (CLI `--json`,
REST), the `process-call --json` object, and the data of the caption and suggestion events (live,
and rebuilt from a stored call). The service's pydantic models (`assistant.service.schemas`) check
these shapes at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from assistant.storage import CallRecord


def to_json(record: CallRecord, suggestion_ids: Sequence[str] = ()) -> dict[str, Any]:
    """The `process-call --json` shape."""
    summary = record.summary_json or {}
    ids = list(suggestion_ids)
    return {
        "call_id": record.call_id,
        "language": record.language,
        "duration": record.duration,
        "reason": record.reason,
        "outcome": record.outcome,
        "sentiment": {
            "start": summary.get("sentiment_start"),
            "end": summary.get("sentiment_end"),
            "overall": record.sentiment_overall,
        },
        "suggestions": [
            {
                "suggestion_id": ids[n] if n < len(ids) else None,
                "article_id": s.article_id,
                "title": s.article_title,
                "score": s.score,
                "utterance": s.query_text,
                "abstained": s.abstained,
            }
            for n, s in enumerate(record.suggestions)
        ],
        "summary_text": record.summary_text,
    }


def iso_time(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def call_row(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls list --json` row plus status."""
    return {
        "call_id": call.call_id,
        "started_at": iso_time(call.started_at),
        "channel": call.channel,
        "language": call.language,
        "duration": call.duration,
        "outcome": call.outcome,
        "status": status or call.status,
        "reason": call.reason,
        "wrapup": dict((getattr(call, "quality", None) or {}).get("wrapup") or NO_WRAPUP),
    }


NO_WRAPUP: dict[str, Any] = {"suggested": [], "chosen": None}


def call_detail(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls show --json` shape plus status."""
    return {
        **call_row(call, status),
        "utterances": [
            {
                "speaker": u.speaker,
                "start": u.start,
                "end": u.end,
                "text": u.text,
                "language": u.language,
                "translation": u.translation,
                "machine_translated": u.machine_translated,
            }
            for u in call.utterances
        ],
        "suggestions": [
            {
                "suggestion_id": s.suggestion_id,
                "article_id": s.article_id,
                "title": s.article_title,
                "score": s.score,
                "abstained": s.abstained,
                "utterance": s.query_text,
            }
            for s in call.suggestions
        ],
        "feedback": [
            {"suggestion_id": f.suggestion_id, "kind": f.kind, "comment": f.comment} for f in call.feedback
        ],
        "summary": dict(call.summary_json or {}),
        "queue": call.queue,
        "alerts": [dict(a) for a in call.alerts],
        "scores": list((getattr(call, "quality", None) or {}).get("scores") or []),
        "metrics": (getattr(call, "quality", None) or {}).get("metrics"),
    }


def live_row(
    call_id: str, started_at: Any, language: str | None, duration: float, outcome: str | None
) -> dict[str, Any]:
    """The row of a call still in progress (nothing stored about it yet but its id and clock)."""
    return {
        "call_id": call_id,
        "started_at": iso_time(started_at),
        "channel": "voice",
        "language": language,
        "duration": round(duration, 2),
        "outcome": outcome or "unknown",
        "status": "live",
        "reason": None,
    }


def caption(
    speaker: str,
    text: str,
    start: float | None,
    end: float | None,
    *,
    final: bool,
    language: str | None,
    translation: str | None = None,
    machine_translated: bool = False,
    confidence: float | None = None,
) -> dict[str, Any]:
    """The data of a caption event: a partial (final=False) or final utterance, redacted.
    `confidence`: the recognizer's, 0-1 (finals)."""
    extra = {} if confidence is None else {"confidence": confidence}
    return {
        "speaker": speaker,
        "text": text,
        "start": start,
        "end": end,
        "final": final,
        "language": language,
        "translation": translation,
        "machine_translated": machine_translated,
        **extra,
    }


def suggestion(
    suggestion_id: str | None,
    utterance: str | None,
    abstained: bool,
    article_id: str | None,
    title: str | None,
    score: float | None,
    **details: Any,
) -> dict[str, Any]:
    """The data of a suggestion event. `details`: confidence, say (the line to read out), answer,
    owner, effective and answer_in_caller_language, when known (a stored call keeps only the article's version)."""
    unknown = set(details) - {
        "confidence",
        "say",
        "answer",
        "owner",
        "effective",
        "answer_in_caller_language",
    }
    if unknown:
        raise TypeError(f"not part of a suggestion: {sorted(unknown)}")
    return {
        "suggestion_id": suggestion_id,
        "utterance": utterance,
        "abstained": abstained,
        "article_id": article_id,
        "title": title,
        "score": score,
        "confidence": details.get("confidence"),
        "say": details.get("say"),
        "answer": details.get("answer"),
        "owner": details.get("owner"),
        "effective": details.get("effective"),
        "answer_in_caller_language": details.get("answer_in_caller_language"),
    }
