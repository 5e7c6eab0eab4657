"""Checks on the sample knowledge base shipped in knowledge_base/ (content, not code).

Light: parses the Markdown files with yaml only; no model is loaded.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

KB_DIR = Path(__file__).resolve().parent.parent / "knowledge_base"
TODAY = dt.date(2026, 11, 22)
MAX_GRADE = 8.0
REQUIRED = ("id", "title", "questions", "program", "language", "owner", "effective", "review_by", "status")
STATUSES = {"published", "draft", "retired"}
ID_RE = re.compile(r"^[a-z0-9-]+$")
# Numbered ("1." / "1)") and bulleted ("-", "*", "+") list markers at the start of a line.
LIST_MARKER_RE = re.compile(r"(?m)^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")


def parse_article(path: Path) -> tuple[dict[str, Any], str]:
    """Split a file into (front matter dict, body) on its first two `---` lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines and lines[0].strip() == "---", f"{path}: must start with a '---' line"
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise AssertionError(f"{path}: front matter has no closing '---' line") from None
    meta = yaml.safe_load("\n".join(lines[1:end]))
    assert isinstance(meta, dict), f"{path}: front matter is not a mapping"
    return meta, "\n".join(lines[end + 1 :]).strip()


def as_date(value: object) -> dt.date:
    # yaml turns an unquoted 2027-06-30 into a date; a quoted one stays a string.
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@pytest.fixture(scope="module")
def articles() -> list[tuple[Path, dict[str, Any], str]]:
    paths = sorted(p for p in KB_DIR.rglob("*.md") if p.name != "README.md")
    assert paths, f"no articles under {KB_DIR}"
    return [(p, *parse_article(p)) for p in paths]


@pytest.fixture(scope="module")
def published_en(articles):
    return [a for a in articles if a[1].get("status") == "published" and a[1].get("language") == "en"]


@pytest.fixture(scope="module")
def fk_grade():
    """The product's own offline Flesch-Kincaid grade (see assistant/text/readability.py)."""
    from assistant.text.readability import flesch_kincaid_grade

    return flesch_kincaid_grade


def test_ids_unique_and_well_formed(articles):
    ids = [meta.get("id") for _, meta, _ in articles]
    bad = [i for i in ids if not isinstance(i, str) or not ID_RE.match(i)]
    assert not bad, f"ids must match {ID_RE.pattern}: {bad}"
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    assert not dupes, f"duplicate ids: {dupes}"


def test_file_name_matches_id(articles):
    wrong = [str(p) for p, meta, _ in articles if p.stem != meta.get("id")]
    assert not wrong, f"file name should be <id>.md: {wrong}"


def test_required_fields_present(articles):
    missing = {str(p): [f for f in REQUIRED if meta.get(f) in (None, "", [])] for p, meta, _ in articles}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, f"missing fields: {missing}"
    bad_status = [str(p) for p, meta, _ in articles if meta["status"] not in STATUSES]
    assert not bad_status, f"status must be one of {sorted(STATUSES)}: {bad_status}"


def test_enough_published_english_articles(published_en):
    assert len(published_en) >= 40, f"only {len(published_en)} published English articles"


def test_published_articles_have_3_to_8_questions(articles):
    wrong = {
        meta["id"]: len(meta.get("questions") or [])
        for _, meta, _ in articles
        if meta.get("status") == "published" and not 3 <= len(meta.get("questions") or []) <= 8
    }
    assert not wrong, f"need 3-8 questions: {wrong}"


def test_review_dates_in_future(articles):
    stale = [meta["id"] for _, meta, _ in articles if as_date(meta["review_by"]) <= TODAY]
    assert not stale, f"review_by must be after {TODAY}: {stale}"


def test_translations_point_to_existing_articles(articles):
    by_id = {meta["id"]: meta for _, meta, _ in articles}
    translations = [meta for meta in by_id.values() if "translation_of" in meta]
    assert translations, "expected some sample translations"
    dangling = [m["id"] for m in translations if m["translation_of"] not in by_id]
    assert not dangling, f"translation_of points nowhere: {dangling}"
    same_lang = [
        m["id"] for m in translations if by_id.get(m["translation_of"], {}).get("language") == m["language"]
    ]
    assert not same_lang, f"translation in the same language as its source: {same_lang}"


def test_status_samples_exist(articles):
    statuses = [meta["status"] for _, meta, _ in articles]
    assert statuses.count("draft") >= 1 and statuses.count("retired") >= 1


def test_english_published_bodies_are_plain_language(published_en, fk_grade):
    grades = sorted(
        ((round(fk_grade(LIST_MARKER_RE.sub("", body)), 1), meta["id"]) for _, meta, body in published_en),
        reverse=True,
    )
    too_hard = [(g, i) for g, i in grades if g > MAX_GRADE]
    assert not too_hard, f"Flesch-Kincaid grade above {MAX_GRADE}: {too_hard}; worst overall: {grades[:5]}"


def test_published_bodies_are_short_answers(articles):
    wrong = {
        meta["id"]: n
        for _, meta, body in articles
        if meta["status"] == "published" and not 60 <= (n := len(LIST_MARKER_RE.sub("", body).split())) <= 180
    }
    assert not wrong, f"body should be 60-180 words: {wrong}"
