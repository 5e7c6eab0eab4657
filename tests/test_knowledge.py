"""Article parsing, validation, loading and atomic writing (pure logic, tmp_path knowledge bases)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from assistant.knowledge.articles import (
    Article,
    ArticleError,
    load_articles,
    parse_article,
    render_article,
    write_article,
)

GOOD = """---
id: renew-licence
title: Renew a driving licence
questions:
  - How do I renew my licence?
  - My licence expired, what now?
program: licences
owner: licensing-team
effective: 2025-01-01
review_by: 2026-06-30
tags: [licence, renewal]
---
You can renew online or at any office.
"""


def write(kb: Path, rel: str, text: str | bytes) -> Path:
    path = kb / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_parse_fills_fields_and_defaults() -> None:
    a = parse_article(GOOD, "renew.md")
    assert a.id == "renew-licence"
    assert a.questions == ("How do I renew my licence?", "My licence expired, what now?")
    assert a.effective == dt.date(2025, 1, 1)
    assert a.review_by == dt.date(2026, 6, 30)
    assert a.language == "en" and a.status == "published" and a.published
    assert a.tags == ("licence", "renewal")
    assert a.body == "You can renew online or at any office."


def test_render_round_trips() -> None:
    a = parse_article(GOOD, "renew.md")
    again = parse_article(render_article(a), "renew.md")
    assert again == a
    assert again.content_hash() == a.content_hash()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("---\ntitle: No id\n---\nbody\n", "id"),
        ("---\nid: no-title\n---\nbody\n", "title"),
        ("---\nid: Bad_Id\ntitle: T\n---\n", "id"),
        ("---\nid: a\ntitle: T\nreview_by: 2025-13-45\n---\n", "review_by"),
        ("---\nid: a\ntitle: T\neffective: soon\n---\n", "effective"),
        ("---\nid: a\ntitle: T\nstatus: live\n---\n", "status"),
        ("---\nid: a\ntitle: T\nquestions: {a: 1}\n---\n", "questions"),
        ("---\nid: a\ntitle: T\ncolour: red\n---\n", "colour"),
        ("---\n- just\n- a list\n---\nbody\n", ""),
        ("---\nid: [unclosed\n---\n", ""),
        ("no front matter at all\n", ""),
        ("---\nid: a\ntitle: T\n", ""),
    ],
)
def test_invalid_articles_name_the_field(text: str, field: str) -> None:
    with pytest.raises(ArticleError) as info:
        parse_article(text)
    assert info.value.field == field


def test_load_reports_bad_files_and_keeps_the_rest(tmp_path: Path) -> None:
    write(tmp_path, "good.md", GOOD)
    write(tmp_path, "sub/other.md", "---\nid: other\ntitle: Other\nstatus: draft\n---\nText.\n")
    write(tmp_path, "sub/dup.md", GOOD)  # same id as good.md, later in path order? no: 'good' < 'sub'
    write(tmp_path, "bad-yaml.md", "---\nid: x\ntitle: [oops\n---\n")
    write(tmp_path, "latin1.md", "---\nid: caf\ntitle: Caf\xe9\n---\n".encode("latin-1"))
    write(tmp_path, "list.md", "---\n- a\n---\n")
    write(tmp_path, "date.md", "---\nid: dated\ntitle: T\nreview_by: tomorrow\n---\n")
    articles, problems = load_articles(tmp_path)
    assert sorted(a.id for a in articles) == ["other", "renew-licence"]
    by_file = {Path(p.path).name: p for p in problems}
    assert set(by_file) == {"dup.md", "bad-yaml.md", "latin1.md", "list.md", "date.md"}
    assert by_file["dup.md"].field == "id" and "duplicate" in by_file["dup.md"].message
    assert "UTF-8" in by_file["latin1.md"].message
    assert "mapping" in by_file["list.md"].message
    assert by_file["date.md"].field == "review_by"
    assert all(p.severity == "error" for p in problems)
    assert next(a for a in articles if a.id == "other").path == "sub/other.md"


def test_load_missing_folder_is_input_error(tmp_path: Path) -> None:
    from assistant.errors import InputError

    with pytest.raises(InputError):
        load_articles(tmp_path / "nope")


def test_write_article_is_validated_and_atomic(tmp_path: Path) -> None:
    a = Article(id="pay-tax", title="Pay your tax", body="Pay online.", questions=("How do I pay?",))
    path = write_article(tmp_path, a)
    assert path == tmp_path / "pay-tax.md"
    loaded, problems = load_articles(tmp_path)
    assert problems == [] and loaded[0] == a
    # An invalid article raises and leaves the existing file untouched, with no temp file behind.
    before = path.read_text()
    with pytest.raises(ArticleError) as info:
        write_article(tmp_path, Article(id="pay-tax", title=" ", body="x"))
    assert info.value.field == "title"
    assert path.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pay-tax.md"]


def test_write_article_refuses_an_id_used_by_another_file(tmp_path: Path) -> None:
    write(tmp_path, "taxes/pay.md", "---\nid: pay-tax\ntitle: Pay\n---\n")
    with pytest.raises(ArticleError) as info:
        write_article(tmp_path, Article(id="pay-tax", title="Pay again"))
    assert info.value.field == "id"
    # Editing the same file in place is fine.
    write_article(tmp_path, Article(id="pay-tax", title="Pay again", path="taxes/pay.md"))
    assert load_articles(tmp_path)[0][0].title == "Pay again"


def test_write_article_refuses_paths_outside_the_kb(tmp_path: Path) -> None:
    with pytest.raises(ArticleError):
        write_article(tmp_path / "kb", Article(id="x", title="X", path="../escape.md"))
