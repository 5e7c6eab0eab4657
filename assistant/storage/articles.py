"""Article drafts waiting to be published, and each article's history. Use them through
`assistant.storage`. The published articles themselves are Markdown files (`assistant.knowledge`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assistant.storage.schema import (
    Connection,
    dumps_json,
    from_db,
    loads_json,
    now,
    rows,
    to_db,
    transaction,
)


@dataclass(frozen=True)
class ArticleDraft:
    """A new or edited article waiting for a knowledge manager to publish it.

    Attributes:
        article_id: the article's id.
        content: its front-matter fields and `body`, as the API received them (validated).
        author: who wrote this draft.
        created_at: when.
    """

    article_id: str
    content: dict[str, Any]
    author: str
    created_at: datetime


@dataclass(frozen=True)
class ArticleEvent:
    """One line of an article's history: `action` (draft, publish, retire, unpublish, discard) by `user`."""

    article_id: str
    action: str
    user: str
    at: datetime


def save_draft(con: Connection, article_id: str, content: dict[str, Any], author: str) -> None:
    """Store the article's draft (replacing an earlier one) and a `draft` history line."""
    with transaction(con):
        con.execute("DELETE FROM article_drafts WHERE article_id = ?", [article_id])
        con.execute(
            "INSERT INTO article_drafts VALUES (?, ?, ?, ?)",
            [article_id, dumps_json(content), author, to_db(now())],
        )
        _history(con, article_id, "draft", author)


def _draft(row: dict[str, Any]) -> ArticleDraft:
    return ArticleDraft(
        row["article_id"], loads_json(row["content"]), row["author"], from_db(row["created_at"])
    )


def get_draft(con: Connection, article_id: str) -> ArticleDraft | None:
    found = rows(con, "SELECT * FROM article_drafts WHERE article_id = ?", [article_id])
    return _draft(found[0]) if found else None


def list_drafts(con: Connection) -> list[ArticleDraft]:
    return [_draft(r) for r in rows(con, "SELECT * FROM article_drafts ORDER BY article_id")]


def close_draft(con: Connection, article_id: str, action: str, user: str) -> None:
    """Remove the draft (it was published or discarded) and add the history line, together."""
    with transaction(con):
        con.execute("DELETE FROM article_drafts WHERE article_id = ?", [article_id])
        _history(con, article_id, action, user)


def add_article_event(con: Connection, article_id: str, action: str, user: str) -> None:
    _history(con, article_id, action, user)


def _history(con: Connection, article_id: str, action: str, user: str) -> None:
    con.execute(
        "INSERT INTO article_history VALUES (nextval('article_history_seq'), ?, ?, ?, ?)",
        [article_id, action, user, to_db(now())],
    )


def article_history(con: Connection, article_id: str) -> list[ArticleEvent]:
    """The article's history, oldest first."""
    found = rows(
        con,
        "SELECT article_id, action, user_name, logged_at FROM article_history WHERE article_id = ? ORDER BY id",
        [article_id],
    )
    return [
        ArticleEvent(r["article_id"], r["action"], r["user_name"], from_db(r["logged_at"])) for r in found
    ]
