"""The supervisor floor: one row per live call (`GET /floor`, `assistant floor --json`).

Everything here is read from the call in memory, and every text in it is redacted already: the
latest need is the redacted English of the caller's last need, alert details are built from
redacted text (`alerts.py`), and the call id, agent and queue passed the privacy gate on the way in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assistant.calls.views import iso_time
from assistant.live.alerts import sentiment_trend
from assistant.storage import suggestion_id
from assistant.vocab import confidence_word

if TYPE_CHECKING:
    from assistant.live.session import LiveCall


def last_suggestion(call: LiveCall) -> dict[str, Any] | None:
    """The call's latest suggestion and the agent's feedback on it (None: none yet)."""
    if not call.suggestions:
        return None
    position = len(call.suggestions) - 1
    s = call.suggestions[position]
    sid = suggestion_id(call.call_id, position)
    return {
        "suggestion_id": sid,
        "article_id": s.article_id,
        "title": s.article_title,
        "abstained": bool(s.abstained),
        "confidence": None if s.abstained else confidence_word(s.score),
        "feedback": call.feedback.get(sid),
    }


def floor_row(call: LiveCall) -> dict[str, Any]:
    """One live call as the floor shows it."""
    decision = call.language.decision
    return {
        "call_id": call.call_id,
        "agent": call.agent_id,
        "queue": call.queue,
        "started_at": iso_time(call.started_at),
        "duration": round(call.duration, 1),
        "language": decision.language if decision else None,
        "sentiment": call.caller_label,
        "sentiment_trend": sentiment_trend(call.caller_scores),
        "latest_need": call.latest_need,
        "alerts": [dict(a) for a in list(call.alerts)],
        "last_suggestion": last_suggestion(call),
    }


def floor(calls: list[LiveCall]) -> dict[str, Any]:
    """The floor: live calls, oldest first (the longest-waiting stays at the top). A call whose
    stream has stopped stays until its last finals are done, so an alert they raise is seen."""
    ordered = sorted(calls, key=lambda c: c.started_at)
    return {"calls": [floor_row(c) for c in ordered if c.state in ("live", "ending")]}
