"""The REST API of the service (the console's contract; see docs/service.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from assistant import calls as calls_json
from assistant import config
from assistant.errors import InputError
from assistant.service_hub import CallHub, record_from_stored, stored_status
from assistant.summary import with_outcome


class SearchBody(BaseModel):
    text: str
    k: int = 3
    program: str | None = None


class FeedbackBody(BaseModel):
    suggestion_id: str
    kind: str
    comment: str | None = None


class OutcomeBody(BaseModel):
    outcome: str


class LanguageBody(BaseModel):
    language: str


class StatusBody(BaseModel):
    status: str


class IngestBody(BaseModel):
    source: str


class DemoBody(BaseModel):
    sample: str | None = None


def call_row(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls list --json` row plus status (live, complete or interrupted)."""
    return calls_json.call_row(call, status or stored_status(call))


def call_detail(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls show --json` shape plus status."""
    return calls_json.call_detail(call, status or stored_status(call))


def stored_events(call: Any) -> list[dict[str, Any]]:
    """Events rebuilt from a stored call (one that is no longer in the service's memory)."""
    out: list[dict[str, Any]] = []

    def emit(kind: str, data: dict[str, Any]) -> None:
        out.append({"seq": len(out), "type": kind, "call_id": call.call_id, "data": data})

    if call.language:
        emit(
            "language",
            {"language": call.language, "probability": call.language_probability, "overridden": False},
        )
    for u in call.utterances:
        emit(
            "caption",
            {
                "speaker": u.speaker,
                "text": u.text,
                "start": u.start,
                "end": u.end,
                "final": True,
                "language": u.language,
                "translation": u.translation,
                "machine_translated": u.machine_translated,
            },
        )
    for s in call.suggestions:
        emit(
            "suggestion",
            {
                "suggestion_id": s.suggestion_id,
                "utterance": s.query_text,
                "abstained": s.abstained,
                "article_id": s.article_id,
                "title": s.article_title,
                "score": s.score,
                "confidence": None,
                "answer": None,
                "owner": None,
                "effective": s.article_version,
                "answer_in_caller_language": None,
            },
        )
    if call.summary_json:
        emit("summary", dict(call.summary_json))
    state = {"complete": "ended"}.get(stored_status(call), stored_status(call))
    emit("status", {"state": state, "lag": 0.0})
    return out


def database_problem(hub: CallHub) -> str | None:
    """Why the service's database cannot serve calls (None: it can). DuckDB answers from its
    cache on a file truncated underneath it, so the file is also checked against its block count."""
    import os

    try:
        cur = hub.cursor()
        cur.execute("SELECT count(*) FROM calls").fetchone()
        size = cur.execute("SELECT block_size, total_blocks FROM pragma_database_size()").fetchone()
    except Exception as exc:  # noqa: BLE001 - health reports, it does not fail
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    path = str(hub.db_path)
    if size is not None and path != ":memory:":
        expected = int(size[0]) * int(size[1])
        try:
            actual = os.path.getsize(os.path.expanduser(path))
        except OSError as exc:
            return f"database file {path} cannot be read ({exc.strerror})"
        if actual < expected:
            return f"database file {path} is truncated ({actual} bytes, its blocks need {expected})"
    return None


def add_routes(app: Any, hub: CallHub, start_demo: Callable[[str | None], str]) -> None:
    """Register the REST routes on `app`. Call ids may contain '/', so the call routes take the
    rest of the path (`{call_id:path}`); the routes with a suffix come before the plain one."""
    from fastapi import HTTPException

    from assistant import storage
    from assistant.privacy import safe_id

    def stored(call_id: str) -> Any:
        call = storage.get_call(hub.cursor(), call_id)
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        return call

    @app.get("/health")
    def health() -> Any:
        from fastapi.responses import JSONResponse

        proc = hub.processor
        db_error = database_problem(hub)
        body = {
            "status": "ok" if db_error is None and hub.errors == 0 else "degraded",
            "models": {
                "transcriber": getattr(proc._transcriber, "name", None)
                if proc._transcriber
                else "not loaded",
                "embedder": getattr(proc._embedder, "model_name", None) if proc._embedder else "not loaded",
                "index": "loaded" if proc._index is not None else "not loaded",
            },
            "database": {"path": str(hub.db_path), "ok": db_error is None, "error": db_error},
            "active_calls": len(hub.calls),
            "lag": hub.lags(),
            "worker_errors": hub.errors,
            "live_workers": dict(hub.served),  # jobs each model worker has run
        }
        # A database that cannot serve the calls is an outage (503), not a degraded service.
        return JSONResponse(body, status_code=200 if db_error is None else 503)

    @app.get("/calls")
    def list_calls(
        response: Response, active: bool | None = None, limit: int = 100, cursor: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first. When more calls exist than `limit`, the `X-Next-Cursor` header holds the
        cursor of the next page (pass it back as `cursor`); live calls lead the first page."""
        live = {c.call_id: c for c in list(hub.calls.values())}
        rows = [
            {
                "call_id": c.call_id,
                "started_at": calls_json.iso_time(c.started_at),
                "channel": "voice",
                "language": c.language.decision.language if c.language.decision else None,
                "duration": round(c.duration, 2),
                "outcome": c.outcome or "unknown",
                "status": "live",
            }
            for c in live.values()
        ]
        if active:
            return rows[:limit]
        page, next_cursor = storage.list_calls_page(hub.cursor(), limit=limit, cursor=cursor)
        stored_calls = [c for c in page if c.call_id not in live]
        if active is False:
            stored_calls = [c for c in stored_calls if stored_status(c) != "live"]
        lead = [] if cursor or active is False else rows[:limit]  # live calls lead the first page
        room = limit - len(lead)
        if room < len(stored_calls):
            stored_calls = stored_calls[:room]
            next_cursor = storage.encode_cursor(stored_calls[-1]) if stored_calls else cursor
        out = lead + [call_row(c) for c in stored_calls]
        if next_cursor:
            response.headers["X-Next-Cursor"] = next_cursor
        return out

    @app.get("/calls/{call_id:path}/events")
    def events(call_id: str, cursor: int = 0) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        live = hub.get(call_id)
        if live is not None:
            found, nxt = live.events_since(cursor)
            return {"events": found, "cursor": nxt}
        everything = stored_events(stored(call_id))
        cursor = max(0, cursor)
        return {"events": everything[cursor:], "cursor": max(cursor, len(everything))}

    @app.get("/calls/{call_id:path}")
    def get_call(call_id: str) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        call = storage.get_call(hub.cursor(), call_id)
        live = hub.calls.get(call_id)
        if call is None and live is not None:
            return {
                "call_id": call_id,
                "started_at": calls_json.iso_time(live.started_at),
                "channel": "voice",
                "language": None,
                "duration": round(live.duration, 2),
                "outcome": "unknown",
                "status": "live",
                "utterances": [],
                "suggestions": [],
                "feedback": [],
                "summary": {},
            }
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        return call_detail(call, "live" if live is not None else None)

    @app.post("/calls/{call_id:path}/feedback")
    def feedback(call_id: str, body: FeedbackBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        fb = storage.add_feedback(hub.cursor(), call_id, body.suggestion_id, body.kind, body.comment)
        return {
            "feedback_id": fb.feedback_id,
            "call_id": call_id,
            "suggestion_id": fb.suggestion_id,
            "article_id": fb.article_id,
            "kind": fb.kind,
            "created_at": calls_json.iso_time(fb.created_at),
        }

    @app.post("/calls/{call_id:path}/outcome")
    def outcome(call_id: str, body: OutcomeBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        if body.outcome not in storage.OUTCOMES:
            raise InputError(f"unknown outcome {body.outcome!r}; use one of: {', '.join(storage.OUTCOMES)}")
        live = hub.calls.get(call_id)
        if live is not None:
            live.outcome = body.outcome  # applied when the call is stored at its end
            return {"call_id": call_id, "outcome": body.outcome, "status": "live"}
        call = stored(call_id)
        storage.save_call(hub.cursor(), with_outcome(record_from_stored(call), body.outcome))
        return {"call_id": call_id, "outcome": body.outcome, "status": stored_status(call)}

    @app.post("/calls/{call_id:path}/language")
    def language(call_id: str, body: LanguageBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        from assistant.language import normalize_code

        code = normalize_code(body.language)
        live = hub.calls.get(call_id)
        if live is not None:
            live.language.override(code)
            live.emit("language", {"language": code, "probability": 1.0, "overridden": True})
            return {"call_id": call_id, "language": code, "overridden": True}
        call = stored(call_id)
        storage.save_call(hub.cursor(), record_from_stored(call, language=code, language_probability=1.0))
        return {"call_id": call_id, "language": code, "overridden": True}

    @app.post("/search")
    def search(body: SearchBody) -> dict[str, Any]:
        from assistant.retrieval import SearchOptions, search_many

        if not 1 <= body.k <= 20:
            raise InputError(f"k must be between 1 and 20, got {body.k}")
        embedder, index = hub.processor.search_engine()
        result = search_many(
            [body.text], SearchOptions(k=body.k, program=body.program), index=index, embedder=embedder
        )[0]
        return {
            "query": result.query,
            "abstained": result.abstained,
            "reason": result.reason,
            "hits": [
                {
                    "id": h.article_id,
                    "title": h.title,
                    "score": h.score,
                    "passage": h.passage,
                    "owner": h.owner,
                    "effective": calls_json.iso_time(h.effective),
                    "review_by": calls_json.iso_time(h.review_by),
                    "program": h.program,
                    "language": h.language,
                }
                for h in result.hits
            ],
        }

    from assistant.service_knowledge import add_knowledge_routes

    add_knowledge_routes(app, hub)

    @app.post("/ingest")
    def ingest(body: IngestBody) -> dict[str, Any]:
        """Batch ingest (as `assistant ingest`) of a file or folder on the service's machine, into
        the service's database with its loaded models; the CLI uses it while the service runs."""
        from pipelines.ingest import ingest as run_ingest

        report = run_ingest(body.source, con=hub.cursor(), processor=hub.processor)
        return report.to_json()

    @app.post("/demo-calls")
    def demo_call(body: DemoBody) -> dict[str, Any]:
        return {"call_id": start_demo(body.sample)}

    _ = config
