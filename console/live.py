"""The live call's state in the session, built from service events (no Streamlit here: plain logic)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def new_state(call_id: str | None) -> dict[str, Any]:
    """Everything the Live call page knows about one call; the cursor is where the next poll starts."""
    return {
        "call_id": call_id,
        "cursor": 0,
        "captions": [],
        "suggestions": [],
        "language": None,
        "sentiment": None,
        "status": "live" if call_id else None,
        "lag": None,
        "summary": None,
        "feedback": {},
        "alerts": [],
        "latest": "No call selected." if call_id is None else "Waiting for the first caption.",
    }


def apply_events(
    state: dict[str, Any], events: Iterable[dict[str, Any]], next_cursor: int, *, announce_agent: bool = False
) -> dict[str, Any]:
    """Fold events into `state` (in place) and return it; `latest` says what a screen reader announces:
    the caller's final captions and new suggestions (and the agent's own finals with `announce_agent`:
    an agent talking does not want to hear their own words read back)."""
    news: list[str] = []
    for ev in events:
        data = ev.get("data") or {}
        kind = ev.get("type")
        if kind == "caption":
            captions = state["captions"]
            # A partial caption is replaced by the next partial or the final text of the same
            # speaker, even when the other speaker's captions came in between (cross-talk).
            for i in range(len(captions) - 1, max(-1, len(captions) - 6), -1):
                if captions[i].get("speaker") == data.get("speaker"):
                    if not captions[i].get("final", True):
                        del captions[i]
                    break
            captions.append(dict(data))
            caller = data.get("speaker") != "agent"
            if data.get("final", True) and (caller or announce_agent):
                said = data.get("translation") or data.get("text") or ""
                news.append(f"{'Caller' if caller else 'Agent'}: {said}")
        elif kind == "suggestion":
            state["suggestions"].append(dict(data))
            say = (data.get("answer_in_caller_language") or {}).get("say") or data.get("say")
            news.append(
                "No approved answer for the last question."
                if data.get("abstained")
                else f"Suggestion: {data.get('title')}, confidence {data.get('confidence') or 'unknown'}."
                + (f" Say: {say}" if say else "")
            )
        elif kind == "alert":
            state["alerts"].append(dict(data))
        elif kind == "language":
            state["language"] = dict(data)
        elif kind == "sentiment":
            state["sentiment"] = dict(data)
        elif kind == "summary":
            state["summary"] = dict(data)
        elif kind == "status":
            state["status"] = data.get("state", state["status"])
            state["lag"] = data.get("lag")
    state["cursor"] = max(state["cursor"], next_cursor)
    if news:
        state["latest"] = " ".join(news[-2:])
    return state


def is_over(state: dict[str, Any]) -> bool:
    return state.get("status") in ("ended", "interrupted")
