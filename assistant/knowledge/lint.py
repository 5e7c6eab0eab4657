"""`assistant kb lint`: find what a knowledge manager must fix before articles reach agents.

Errors (exit 1): files that do not load (bad YAML, missing id/title, duplicate id, bad date ...).
Warnings: near-duplicate articles (title+questions embeddings almost identical), a past review_by
date, a reading grade above 8 (`textstat.flesch_kincaid_grade` of the body, list markers stripped),
no sample questions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.knowledge.articles import Article, Problem, load_articles
from assistant.text.readability import flesch_kincaid_grade

MAX_GRADE = 8.0
DUPLICATE_SIMILARITY = 0.95


def lint_articles(
    articles: Sequence[Article], kb_dir: Path, *, today: dt.date | None = None, embedder: Any = None
) -> list[Problem]:
    """Warnings for loadable articles; `embedder` enables the near-duplicate check."""
    today = today or dt.date.today()
    problems: list[Problem] = []
    for a in articles:
        path = str(Path(kb_dir) / a.path)
        if a.status == "retired":
            continue
        if a.review_by and a.review_by < today:
            problems.append(
                Problem(path, "review_by", f"review date {a.review_by} has passed", "warning", a.id)
            )
        if not a.questions:
            problems.append(
                Problem(
                    path, "questions", "no sample questions (callers' wording helps search)", "warning", a.id
                )
            )
        if a.body.strip() and a.language == "en":
            grade = flesch_kincaid_grade(a.body)
            if grade > MAX_GRADE:
                problems.append(
                    Problem(
                        path, "body", f"reading grade {grade:.1f} is above {MAX_GRADE:g}", "warning", a.id
                    )
                )
        if not a.body.strip():
            problems.append(Problem(path, "body", "empty answer body", "warning", a.id))
    if embedder is not None:
        problems.extend(near_duplicates(articles, kb_dir, embedder))
    return problems


def near_duplicates(articles: Sequence[Article], kb_dir: Path, embedder: Any) -> list[Problem]:
    """Pairs of live articles (same language) whose title+questions+body embeddings nearly coincide."""

    live = [a for a in articles if a.status != "retired"]
    if len(live) < 2:
        return []
    texts = [" ".join([a.title, *a.questions, a.body])[:2000] for a in live]
    vectors = embedder.embed(texts)
    sims = vectors @ vectors.T
    problems = []
    for i in range(len(live)):
        for j in range(i + 1, len(live)):
            if live[i].language == live[j].language and sims[i, j] >= DUPLICATE_SIMILARITY:
                problems.append(
                    Problem(
                        str(Path(kb_dir) / live[j].path),
                        "",
                        f"near-duplicate of {live[i].id} (similarity {sims[i, j]:.2f}): merge or retire one",
                        "warning",
                        live[j].id,
                    )
                )
    return problems


def lint(kb_dir: str | Path, *, embedder: Any = None, today: dt.date | None = None) -> list[Problem]:
    """Every problem in a knowledge-base folder: load errors first, then warnings."""
    articles, errors = load_articles(kb_dir)
    return errors + lint_articles(articles, Path(kb_dir), today=today, embedder=embedder)
