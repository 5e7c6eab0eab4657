"""The article workflow: what a knowledge manager writes is a draft until a knowledge manager
publishes it (a different one when `publish_needs_second_reviewer` is on); each step is kept in
the article's history (who and when) and the audit log.

- A new article is written as a file with status `draft` (not searchable).
- An edit of a published article is kept as a pending draft in the database: the published file,
  which live search and suggestions read, is unchanged until the draft is published.
- An edit of an article that is not published is written to its file as a draft.
- Publishing applies the pending draft (or the file's draft); retiring or moving to draft applies
  at once (taking an answer out of use needs no second pair of eyes) and discards a pending draft.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant import config, storage
from assistant.errors import AssistantError, InputError
from assistant.identity.audit import record
from assistant.knowledge.articles import (
    STATUSES,
    Article,
    article_from_mapping,
    article_to_mapping,
    load_articles,
    write_article,
)
from assistant.storage import ArticleDraft, Connection

ACTIONS = {"published": "publish", "retired": "retire", "draft": "unpublish"}


class ArticleMissing(InputError):
    """No article with this id (HTTP 404)."""


class ArticleExists(InputError):
    """The id is used by an article or a file already (HTTP 409)."""


class PublishRefused(AssistantError):
    """This person may not publish this draft (HTTP 403)."""


def _find(kb_dir: str, article_id: str) -> Article | None:
    articles, _ = load_articles(kb_dir)
    return next((a for a in articles if a.id == article_id), None)


def content_of(article: Article) -> dict[str, Any]:
    """An article as the fields `article_from_mapping` takes, plus `body` (what a draft stores)."""
    return {**article_to_mapping(article), "body": article.body}


def article_of(content: dict[str, Any], status: str | None = None) -> Article:
    meta = {k: v for k, v in content.items() if k != "body" and v is not None}
    if status is not None:
        meta["status"] = status
    return article_from_mapping(meta, str(content.get("body") or ""))


def create(con: Connection, kb_dir: str, article: Article, *, user: str) -> Article:
    """A new article, written as a draft file. ArticleExists when the id or its file is taken."""
    if _find(kb_dir, article.id) is not None or (Path(kb_dir) / f"{article.id}.md").exists():
        raise ArticleExists(
            f"an article with id {article.id!r} already exists; open it to edit it, or choose another id"
        )
    draft = replace(article, status="draft")
    write_article(kb_dir, draft)
    storage.add_article_event(con, article.id, "draft", user)
    record(con, user, "article.create", article.id)
    return draft


def edit(con: Connection, kb_dir: str, article: Article, *, user: str) -> tuple[Article, ArticleDraft | None]:
    """An edit: (the article as stored now, the pending draft when the article is published)."""
    old = _find(kb_dir, article.id)
    if old is None:
        raise ArticleMissing(f"no article {article.id!r}; create it with POST /articles")
    record(con, user, "article.update", article.id)
    if old.published:
        storage.save_draft(con, article.id, content_of(replace(article, status="draft")), user)
        return old, storage.get_draft(con, article.id)
    new = replace(article, status="draft", path=old.path)
    write_article(kb_dir, new)
    storage.add_article_event(con, article.id, "draft", user)
    return new, None


def last_author(con: Connection, article_id: str) -> str | None:
    """Who wrote the article's latest draft (None: no draft in its history)."""
    drafts = [e for e in storage.article_history(con, article_id) if e.action == "draft"]
    return drafts[-1].user if drafts else None


def set_status(con: Connection, kb_dir: str, article_id: str, status: Any, *, user: str) -> Article:
    """Publish (the pending draft, if any), retire or move to draft."""
    if status not in STATUSES:
        raise InputError(f"unknown article status {status!r}; use one of: {', '.join(STATUSES)}")
    old = _find(kb_dir, article_id)
    if old is None:
        raise ArticleMissing(f"no article {article_id!r}")
    pending = storage.get_draft(con, article_id)
    action = ACTIONS[status]
    if status == "published":
        author = last_author(con, article_id)
        if config.get().publish_needs_second_reviewer and author == user:
            raise PublishRefused(
                f"{user} wrote this draft; another knowledge manager must publish it "
                "(setting publish_needs_second_reviewer)"
            )
        source = article_of(pending.content) if pending is not None else old
        new = replace(source, status="published", path=old.path)
    else:
        new = replace(old, status=status)
    write_article(kb_dir, new)
    if pending is not None:
        storage.close_draft(con, article_id, action if status == "published" else "discard", user)
        if status != "published":
            storage.add_article_event(con, article_id, action, user)
    else:
        storage.add_article_event(con, article_id, action, user)
    record(con, user, f"article.{action}", article_id)
    return new


def history_json(con: Connection, article_id: str) -> list[dict[str, str]]:
    return [
        {"at": e.at.isoformat(), "user": e.user, "action": e.action}
        for e in storage.article_history(con, article_id)
    ]
