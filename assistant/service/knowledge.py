"""Service routes for knowledge managers and supervisors: articles, index, gaps, digests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.responses import PlainTextResponse

from assistant import config, storage
from assistant.digest.build import LazyEmbedder, run_digest
from assistant.digest.model import DigestOptions, from_stored, parse_day
from assistant.digest.render import check_format, export
from assistant.errors import InputError
from assistant.identity.audit import record as audit
from assistant.knowledge import workflow
from assistant.knowledge.articles import article_from_mapping, load_articles
from assistant.knowledge.index import build_index
from assistant.privacy.gate import safe_id
from assistant.service import schemas
from assistant.service.access import current
from assistant.service.hub import CallHub
from assistant.text.readability import flesch_kincaid_grade


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def article_json(article: Any, usage: Any = None, pending: Any = None) -> dict[str, Any]:
    """An article as the API gives it; `pending_draft` is an edit waiting to be published
    (`{"author", "created_at", "article": {...}}`), else None."""

    return {
        "id": article.id,
        "title": article.title,
        "program": article.program,
        "language": article.language,
        "status": article.status,
        "owner": article.owner,
        "effective": _iso(article.effective),
        "review_by": _iso(article.review_by),
        "questions": list(article.questions),
        "body": article.body,
        "tags": list(article.tags),
        "translation_of": article.translation_of,
        "say": article.say,
        "grade": round(flesch_kincaid_grade(article.body), 1)
        if article.language == "en" and article.body
        else None,
        "pending_draft": None
        if pending is None
        else {
            "author": pending.author,
            "created_at": _iso(pending.created_at),
            "article": {k: _iso(v) for k, v in pending.content.items()},
        },
        "usage": {
            "suggested": usage.suggested if usage else 0,
            "helpful": usage.helpful if usage else 0,
            "not_helpful": usage.not_helpful if usage else 0,
            "used": usage.used if usage else 0,
            "last_suggested": _iso(usage.last_suggested) if usage else None,
        },
    }


def knowledge_gaps(con: Any, limit: int = 50) -> list[dict[str, Any]]:
    """The gap queue as JSON: questions with no approved answer or a not-helpful one, judged as
    the digest judges gaps (see `storage.OpenQuestion`)."""

    return [
        {
            "query": q.query,
            "count": q.count,
            "last_seen": _iso(q.last_seen),
            "topic_id": q.topic_id,
            "topic_label": q.topic_label,
        }
        for q in storage.open_questions(con, limit)
    ]


def refresh_search(hub: CallHub) -> dict[str, Any]:
    """Make live search and suggestions use the articles on disk now: update the index (only new or
    changed passages are embedded) and reload the service's copy of the published articles."""

    embedder, _ = hub.processor.search_engine()
    found, problems = load_articles(config.get().kb_dir)
    index, report = build_index(found, config.get().index_dir, embedder)
    hub.swap_index(index)
    hub.reload_catalog()
    return {
        "articles": report.articles,
        "added": report.added,
        "changed": report.changed,
        "removed": report.removed,
        "embedded": report.embedded,
        "index_kind": report.index_kind,
        "head": report.head,
        "problems": len(problems),
    }


def _who() -> str:
    principal = current()
    return principal.name if principal is not None else "-"


def add_knowledge_routes(app: Any, hub: CallHub) -> None:
    import threading

    from fastapi import Body, HTTPException

    # One change to the knowledge base at a time: check, write and re-index together.
    lock = threading.RLock()

    def kb_dir() -> str:
        return str(config.get().kb_dir)

    def parsed(article: dict[str, Any], article_id: str) -> Any:
        """The request body as a validated `Article` (ArticleError names the bad field)."""
        data = {k: v for k, v in article.items() if k not in ("body", "grade", "usage", "path")}
        data["id"] = article_id if data.get("id") in (None, "") else data["id"]
        if data["id"] != article_id:
            raise InputError(f"the body's id {data['id']!r} does not match the URL's {article_id!r}")
        data = {k: v for k, v in data.items() if v is not None}
        return article_from_mapping(data, str(article.get("body") or ""))

    @app.get("/articles", response_model=list[schemas.Article])
    def articles() -> list[dict[str, Any]]:
        found, _ = load_articles(kb_dir())
        usage = {u.article_id: u for u in storage.article_usage(hub.cursor())}
        drafts = {d.article_id: d for d in storage.list_drafts(hub.cursor())}
        return [article_json(a, usage.get(a.id), drafts.get(a.id)) for a in found]

    @app.post("/articles", status_code=201, response_model=schemas.Article)
    def create_article(article: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """A new article, stored as a draft; an id already used (by an article or a file) is 409."""
        article_id = article.get("id")
        try:
            if not isinstance(article_id, str) or not article_id.strip():
                raise HTTPException(422, [{"field": "id", "message": "is required"}])
            new = parsed(article, article_id)
            with lock:
                try:
                    created = workflow.create(hub.cursor(), kb_dir(), new, user=_who())
                except workflow.ArticleExists as exc:
                    raise HTTPException(409, [{"field": "id", "message": str(exc)}]) from None
                refresh_search(hub)
        except (HTTPException, InputError):  # a refused create is on record too (no field values)
            target = safe_id(article_id)[:80] if isinstance(article_id, str) and article_id.strip() else "-"
            audit(hub.cursor(), _who(), "article.create.refused", target)
            raise
        return article_json(created)

    @app.put("/articles/{article_id}", response_model=schemas.Article)
    def save_article(article_id: str, article: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """An edit of an existing article (404 when there is none: create it with POST /articles).
        The edit of a published article waits as `pending_draft` until it is published."""
        new = parsed(article, article_id)
        with lock:
            try:
                stored, pending = workflow.edit(hub.cursor(), kb_dir(), new, user=_who())
            except workflow.ArticleMissing as exc:
                raise HTTPException(404, str(exc)) from None
            refresh_search(hub)
        return article_json(stored, None, pending)

    @app.post("/articles/{article_id}/status", response_model=schemas.Article)
    def set_status(article_id: str, body: dict[str, Any] = Body(...)) -> dict[str, Any]:  # noqa: B008
        """Publish (the pending draft, if any), retire or move to draft."""
        with lock:
            try:
                article = workflow.set_status(
                    hub.cursor(), kb_dir(), article_id, body.get("status"), user=_who()
                )
            except workflow.ArticleMissing as exc:
                raise HTTPException(404, str(exc)) from None
            except workflow.PublishRefused as exc:
                raise HTTPException(403, str(exc)) from None
            refresh_search(hub)
        return article_json(article)

    @app.get("/articles/{article_id}/history", response_model=list[schemas.ArticleEvent])
    def history(article_id: str) -> list[dict[str, str]]:
        """Who drafted, published, retired the article, and when (oldest first)."""
        return workflow.history_json(hub.cursor(), article_id)

    @app.post("/index/rebuild", response_model=schemas.IndexReport)
    def rebuild() -> dict[str, Any]:
        with lock:
            return refresh_search(hub)

    @app.get("/gaps", response_model=list[schemas.Gap])
    def gaps(limit: int = 50) -> list[dict[str, Any]]:
        if not 1 <= limit <= 1000:
            raise InputError(f"limit must be between 1 and 1000, got {limit}")
        return knowledge_gaps(hub.cursor(), limit)

    @app.get("/digests", response_model=list[str])
    def digest_dates() -> list[str]:
        return [d.isoformat() for d in storage.list_digest_dates(hub.cursor())]

    def stored_digest(day: str) -> Any:
        """The stored digest of `day` as a `Digest`; 400 for a malformed date, 404 when none is stored."""

        try:
            when = dt.date.fromisoformat(day)
        except ValueError:
            raise InputError(f"{day!r} is not a date (YYYY-MM-DD)") from None
        found = storage.get_digest(hub.cursor(), when)
        if found is None:
            raise HTTPException(404, f"no digest for {day}; build it with: assistant digest --date {day}")
        return from_stored(found)

    @app.get("/digests/{day}", response_model=schemas.Digest)
    def digest(day: str) -> dict[str, Any]:
        return stored_digest(day).to_json()

    add_digest_build_route(app, hub, stored_digest)

    @app.get(
        "/digests/{day}/export",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/markdown": {}, "text/csv": {}}}},
    )
    def digest_export(day: str, format: str = "markdown") -> Any:
        """The digest as a file (Markdown or CSV), rendered exactly as `assistant digest --format`."""
        from fastapi.responses import Response

        check_format(format)  # first: a bad format is wrong whatever the date
        file = export(stored_digest(day), format)
        audit(hub.cursor(), _who(), "digest.export", f"{day} {format}")
        return Response(
            file.text,
            media_type=f"{file.media_type}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{file.file_name}"'},
        )


def add_digest_build_route(app: Any, hub: CallHub, stored_digest: Any) -> None:
    """`POST /digests/{date}`: build (or rebuild) and store a day's digest; returns its JSON, the
    same as `GET /digests/{date}` afterwards. The service owns the database, so while it runs this
    is how a digest gets built (the console's "Build the digest" button)."""
    import threading

    class ServiceEmbedder(LazyEmbedder):
        """The service's loaded embedder, fetched only when a day has problems to embed."""

        def real(self) -> Any:
            if self._embedder is None:
                self._embedder, _ = hub.processor.search_engine()
            return self._embedder

    lock = threading.Lock()

    @app.post("/digests/{day}", response_model=schemas.Digest)
    def build(day: str) -> dict[str, Any]:
        when = parse_day(day, "the date")
        with lock:
            run_digest(hub.cursor(), when, ServiceEmbedder(), DigestOptions.from_config())
        audit(hub.cursor(), _who(), "digest.build", when.isoformat())
        return stored_digest(when.isoformat()).to_json()
