"""The REST API of the service (the console's contract; see docs/service.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from pydantic import BaseModel

from assistant import config, storage
from assistant.batch.ingest import ingest as run_ingest
from assistant.calls import views
from assistant.errors import InputError
from assistant.identity.audit import record as audit
from assistant.identity.retention import delete_one_call
from assistant.knowledge.articles import say_line
from assistant.knowledge.search import SearchOptions, search_many
from assistant.language.detect import normalize_code
from assistant.live.floor import floor as floor_view
from assistant.privacy.gate import safe_id
from assistant.quality.after_call import after_call
from assistant.service import schemas
from assistant.service.access import current
from assistant.service.hub import CallHub, record_from_stored, stored_status
from assistant.service.knowledge import add_knowledge_routes
from assistant.service.policy import visible_to
from assistant.text.summary import with_outcome
from assistant.vocab import confidence_word


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


class ProcessBody(BaseModel):
    audio: str
    call_id: str | None = None
    language: str | None = None


class DemoBody(BaseModel):
    sample: str | None = None


def call_row(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls list --json` row plus status (live, complete or interrupted)."""
    return views.call_row(call, status or stored_status(call))


def call_detail(call: Any, status: str | None = None) -> dict[str, Any]:
    """The `assistant calls show --json` shape plus status."""
    return views.call_detail(call, status or stored_status(call))


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
            views.caption(
                u.speaker,
                u.text,
                u.start,
                u.end,
                final=True,
                language=u.language,
                translation=u.translation,
                machine_translated=u.machine_translated,
            ),
        )
    for s in call.suggestions:
        emit(
            "suggestion",
            views.suggestion(
                s.suggestion_id,
                s.query_text,
                s.abstained,
                s.article_id,
                s.article_title,
                s.score,
                effective=s.article_version,
            ),
        )
    for item in call.alerts:
        emit("alert", dict(item))
    if call.summary_json:
        emit("summary", dict(call.summary_json))
    state = {"complete": "ended"}.get(stored_status(call), stored_status(call))
    emit("status", {"state": state, "lag": 0.0})
    return out


DUCKDB_HEADER_BYTES = 3 * 4096


def database_problem(hub: CallHub) -> str | None:
    """Why the service's database cannot serve calls (None: it can). DuckDB answers from its
    cache on a file truncated underneath it, so the file is also checked against its blocks in use.

    Not against `total_blocks`: that counts free blocks too, and DuckDB cuts free blocks off the
    end of the file at a checkpoint, so a healthy file is often shorter than all its blocks (seven
    `assistant users add` left 7 blocks in use, 11 in all, and a file of 7)."""
    import os

    try:
        cur = hub.cursor()
        cur.execute("SELECT count(*) FROM calls").fetchone()
        size = cur.execute("SELECT block_size, used_blocks FROM pragma_database_size()").fetchone()
    except Exception as exc:  # noqa: BLE001 - health reports, it does not fail
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    path = str(hub.db_path)
    if size is not None and path != ":memory:":
        # every block in use lies after the file's three 4 KiB headers
        expected = DUCKDB_HEADER_BYTES + int(size[0]) * int(size[1])
        try:
            actual = os.path.getsize(os.path.expanduser(path))
        except OSError as exc:
            return f"database file {path} cannot be read ({exc.strerror})"
        if actual < expected:
            return f"database file {path} is truncated ({actual} bytes, its blocks in use need {expected})"
    return None


def add_routes(app: Any, hub: CallHub, start_demo: Callable[[str | None], str]) -> None:
    """Register the REST routes on `app`. Call ids may contain '/', so the call routes take the
    rest of the path (`{call_id:path}`); the routes with a suffix come before the plain one."""
    from fastapi import HTTPException

    def stored(call_id: str) -> Any:
        call = storage.get_call(hub.cursor(), call_id)
        if call is None or not visible_to(current(), call.agent_id):
            raise HTTPException(404, f"no call {call_id!r}")
        return call

    def live_call(call_id: str, recent: bool = False) -> Any:
        """The live (or, with `recent`, recently ended) call when the asker may see it, else None.
        A call someone may not see is answered as one that does not exist (404), as for stored calls."""
        found = hub.get(call_id) if recent else hub.calls.get(call_id)
        return found if found is not None and visible_to(current(), found.agent_id) else None

    def who() -> str:
        principal = current()
        return principal.name if principal is not None else "-"

    @app.get(
        "/health",
        response_model=schemas.Health | schemas.BriefHealth,
        responses={503: {"model": schemas.Health}},
    )
    def health() -> Any:
        from fastapi.responses import JSONResponse

        proc = hub.processor
        db_error = database_problem(hub)
        if current() is None:  # anonymous (a load balancer, `assistant up`): the status only
            status = "ok" if db_error is None and hub.errors == 0 else "degraded"
            return JSONResponse({"status": status}, status_code=200 if db_error is None else 503)
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
            "live_stages": hub.clock.snapshot(),  # jobs and seconds per stage of the live work
        }
        # A database that cannot serve the calls is an outage (503), not a degraded service.
        return JSONResponse(body, status_code=200 if db_error is None else 503)

    @app.get("/calls", response_model=list[schemas.CallRow])
    def list_calls(
        response: Response, active: bool | None = None, limit: int = 100, cursor: str | None = None
    ) -> list[dict[str, Any]]:
        """Newest first. When more calls exist than `limit`, the `X-Next-Cursor` header holds the
        cursor of the next page (pass it back as `cursor`); live calls lead the first page."""
        asker = current()
        live = {c.call_id: c for c in list(hub.calls.values()) if visible_to(asker, c.agent_id)}
        rows = [
            views.live_row(
                c.call_id,
                c.started_at,
                c.language.decision.language if c.language.decision else None,
                c.duration,
                c.outcome,
            )
            for c in live.values()
        ]
        if active:
            return rows[:limit]
        agent = None if asker is not None and asker.sees_all_calls else (asker.name if asker else "")
        page, next_cursor = storage.list_calls_page(hub.cursor(), limit=limit, cursor=cursor, agent=agent)
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

    @app.get("/floor", response_model=schemas.Floor)
    def floor() -> dict[str, Any]:
        """Every live call the asker may see (agents: their own), oldest first, with its alerts."""
        asker = current()
        return floor_view([c for c in hub.live_calls() if visible_to(asker, c.agent_id)])

    @app.get("/calls/{call_id:path}/events", response_model=schemas.Events)
    def events(call_id: str, cursor: int = 0) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        live = live_call(call_id, recent=True)
        call = None if live is not None else stored(call_id)  # 404 unless the asker may see it
        # The first page is opening the call; the agent handling a live call is not auditing it (their
        # screen follows the call they answer; starting or taking it is on record already).
        if cursor <= 0 and (live is None or live.agent_id != who()):
            audit(hub.cursor(), who(), "call.view", call_id)
        if live is not None:
            found, nxt = live.events_since(cursor)
            return {"events": found, "cursor": nxt}
        everything = stored_events(call)
        cursor = max(0, cursor)
        return {"events": everything[cursor:], "cursor": max(cursor, len(everything))}

    @app.get("/calls/{call_id:path}", response_model=schemas.CallDetail)
    def get_call(call_id: str) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        call = storage.get_call(hub.cursor(), call_id)
        if call is not None and not visible_to(current(), call.agent_id):
            call = None
        live = live_call(call_id)
        if call is not None or live is not None:
            audit(hub.cursor(), who(), "call.view", call_id)
        if call is None and live is not None:
            row = views.live_row(call_id, live.started_at, None, live.duration, None)
            return {**row, "utterances": [], "suggestions": [], "feedback": [], "summary": {}}
        if call is None:
            raise HTTPException(404, f"no call {call_id!r}")
        return call_detail(call, "live" if live is not None else None)

    @app.post("/calls/{call_id:path}/feedback", response_model=schemas.FeedbackSaved)
    def feedback(call_id: str, body: FeedbackBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        live = live_call(call_id, recent=True)
        if live is None:
            stored(call_id)  # 404 unless the asker may see the call
        fb = storage.add_feedback(hub.cursor(), call_id, body.suggestion_id, body.kind, body.comment)
        audit(hub.cursor(), who(), f"feedback.{fb.kind}", fb.suggestion_id)
        if live is not None:
            live.feedback[fb.suggestion_id] = fb.kind  # the floor shows it
        return {
            "feedback_id": fb.feedback_id,
            "call_id": call_id,
            "suggestion_id": fb.suggestion_id,
            "article_id": fb.article_id,
            "kind": fb.kind,
            "created_at": views.iso_time(fb.created_at),
        }

    @app.post("/calls/{call_id:path}/outcome", response_model=schemas.OutcomeSet)
    def outcome(call_id: str, body: OutcomeBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one
        if body.outcome not in storage.OUTCOMES:
            raise InputError(f"unknown outcome {body.outcome!r}; use one of: {', '.join(storage.OUTCOMES)}")
        live = live_call(call_id)
        if live is not None:
            live.outcome = body.outcome  # applied when the call is stored at its end
            return {"call_id": call_id, "outcome": body.outcome, "status": "live"}
        call = stored(call_id)
        storage.save_call(hub.cursor(), with_outcome(record_from_stored(call), body.outcome))
        return {"call_id": call_id, "outcome": body.outcome, "status": stored_status(call)}

    @app.post("/calls/{call_id:path}/language", response_model=schemas.LanguageSet)
    def language(call_id: str, body: LanguageBody) -> dict[str, Any]:
        call_id = safe_id(call_id)  # a raw id with personal data finds its opaque one

        code = normalize_code(body.language)
        live = live_call(call_id)
        if live is not None:
            live.language.override(code)
            live.emit("language", {"language": code, "probability": 1.0, "overridden": True})
            return {"call_id": call_id, "language": code, "overridden": True}
        call = stored(call_id)
        storage.save_call(hub.cursor(), record_from_stored(call, language=code, language_probability=1.0))
        return {"call_id": call_id, "language": code, "overridden": True}

    @app.post("/search", response_model=schemas.SearchResults)
    def search(body: SearchBody) -> dict[str, Any]:

        if not 1 <= body.k <= 20:
            raise InputError(f"k must be between 1 and 20, got {body.k}")
        embedder, index = hub.processor.search_engine()
        result = search_many(
            [body.text], SearchOptions(k=body.k, program=body.program), index=index, embedder=embedder
        )[0]
        catalog = hub.catalog.by_id if hub.catalog is not None else {}
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
                    "confidence": confidence_word(h.score),
                    "say": say_line(catalog[h.article_id])
                    if h.article_id in catalog
                    else say_line(body=h.passage),
                    "answer": catalog[h.article_id].body if h.article_id in catalog else None,
                    "owner": h.owner,
                    "effective": views.iso_time(h.effective),
                    "review_by": views.iso_time(h.review_by),
                    "program": h.program,
                    "language": h.language,
                }
                for h in result.hits
            ],
        }

    add_knowledge_routes(app, hub)

    @app.post("/ingest", response_model=schemas.IngestReport)
    def ingest(body: IngestBody) -> dict[str, Any]:
        """Batch ingest (as `assistant ingest`) of a file or folder on the service's machine, into
        the service's database with its loaded models; the CLI uses it while the service runs."""

        report = run_ingest(body.source, con=hub.cursor(), processor=hub.processor)
        return report.to_json()

    @app.post("/calls/process", response_model=schemas.ProcessedCall)
    def process_call(body: ProcessBody) -> dict[str, Any]:
        """`assistant process-call` of a recording on the service's machine, with its loaded models,
        into its database (the CLI uses it while the service runs); the `process-call --json` shape."""
        import copy
        import dataclasses
        from pathlib import Path

        path = Path(body.audio)
        if not path.is_file():
            raise InputError(f"no recording at {body.audio!r} on the service's machine")
        processor = hub.processor
        if body.language:
            processor = copy.copy(processor)
            processor.options = dataclasses.replace(processor.options, language=normalize_code(body.language))
        record = processor.process_file(path, call_id=body.call_id)
        con = hub.cursor()
        ids = storage.save_call(con, record)
        after_call(con, record.call_id, speech=record.speech)  # metrics, scorecards, wrap-up
        audit(con, who(), "call.process", record.call_id)
        return views.to_json(record, ids)

    @app.delete("/calls/{call_id:path}", response_model=schemas.CallDeleted)
    def delete_call(call_id: str) -> dict[str, Any]:
        """Delete one stored call everywhere, on request (admin; `assistant calls delete ID`)."""
        call_id = safe_id(call_id)
        if hub.calls.get(call_id) is not None:
            raise InputError(f"call {call_id!r} is live; delete it once it has ended")
        delete_one_call(hub.cursor(), call_id, by=who())
        return {"call_id": call_id, "deleted": True}

    @app.post("/demo-calls", response_model=schemas.DemoCall)
    def demo_call(body: DemoBody) -> dict[str, Any]:
        call_id = start_demo(body.sample)
        audit(hub.cursor(), who(), "call.demo", call_id)
        return {"call_id": call_id}

    _ = config
