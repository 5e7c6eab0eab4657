"""The Knowledge page's article editor: form values <-> the service's article shape, and validation.

Validation reuses the knowledge base's own rules (`assistant.knowledge.articles.article_from_mapping`), field by
field, so a knowledge manager sees every problem at once, each next to its field, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from assistant.errors import InputError
from assistant.service.client import ArticleError, article_from_mapping

TEXT_FIELDS = (
    "id",
    "title",
    "say",
    "program",
    "language",
    "owner",
    "effective",
    "review_by",
    "translation_of",
)
LIST_FIELDS = ("questions", "tags")
FIELDS = (*TEXT_FIELDS, *LIST_FIELDS, "status", "body")
PREFIX = "kb_f_"


def blank() -> dict[str, str]:
    """Form values of a new article."""
    return {f: "" for f in FIELDS} | {"language": "en", "status": "draft"}


def from_article(a: dict[str, Any]) -> dict[str, str]:
    """Form values (all text) of an article as the service returns it."""
    values = blank()
    for f in TEXT_FIELDS:
        values[f] = "" if a.get(f) is None else str(a[f])
    values["questions"] = "\n".join(a.get("questions") or [])
    values["tags"] = ", ".join(a.get("tags") or [])
    values["status"] = a.get("status") or "draft"
    values["body"] = a.get("body") or ""
    return values


def from_gap(query: str, topic_label: str | None = None) -> dict[str, str]:
    """A draft article started from a question the knowledge base could not answer. Its title is the
    digest topic's label when the question has one (a caller's words, as the recognizer heard them,
    can be garbled), else the question."""
    return blank() | {
        "title": (topic_label or "").strip() or query.strip().rstrip("?"),
        "questions": query.strip(),
    }


def to_payload(values: dict[str, str]) -> dict[str, Any]:
    """The article dict sent to `save_article` (empty optional fields become None)."""
    out: dict[str, Any] = {f: (values.get(f) or "").strip() or None for f in TEXT_FIELDS}
    out["questions"] = [q.strip() for q in (values.get("questions") or "").splitlines() if q.strip()]
    out["tags"] = [t.strip() for t in (values.get("tags") or "").split(",") if t.strip()]
    out["status"] = values.get("status") or "draft"
    out["body"] = (values.get("body") or "").strip()
    return out


def validate(values: dict[str, str]) -> dict[str, str]:
    """Problems by field name ({} when the article can be saved)."""

    payload = to_payload(values)
    meta = {k: v for k, v in payload.items() if k != "body" and v not in (None, [])}
    errors: dict[str, str] = {}
    base = {"id": "placeholder", "title": "placeholder"}
    for field, value in meta.items():
        try:
            article_from_mapping({**base, field: value})
        except ArticleError as exc:
            errors[field or "id"] = exc.detail
    for field in ("id", "title"):
        if not payload.get(field):
            errors[field] = "is required"
    if not payload["body"]:
        errors["body"] = "the answer text is empty"
    if not errors:
        try:  # rules that involve two fields (review date after effective date, ...)
            article_from_mapping(meta, payload["body"])
        except ArticleError as exc:
            errors[exc.field or "id"] = exc.detail
    return errors


def field_of(exc: InputError) -> tuple[str, str]:
    """(field, message) of a validation error from the service: `field` attribute or 'field: message'."""
    field = getattr(exc, "field", None)
    text = str(exc)
    if not field:
        head, sep, rest = text.partition(": ")
        if sep and head in FIELDS:
            field, text = head, rest
    return (field or "", getattr(exc, "detail", None) or text)
