"""Retrieval evaluation on public intent data sets (BANKING77, CLINC150), as in shared/eval/README.md.

One article per intent built from the train split (its train queries are the article's questions,
the title is the intent name humanised); every test query is searched. The abstention threshold is
calibrated on the validation split only (CLINC150 `val` + `oos_val`), never on the test split.
Embeddings are cached under `<home>/cache/embeddings`, keyed by model and text hash.
"""

from __future__ import annotations

import csv
import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant import config
from assistant.errors import InputError
from assistant.knowledge.articles import Article
from assistant.knowledge.index import build_index
from assistant.knowledge.search import SearchOptions, atomic_write, search_many

DATASETS = ("banking77", "clinc150")
# Calibration rule: the lowest threshold that abstains on this share of the validation OOS queries.
TARGET_OOS_VAL_RECALL = 0.85


@dataclass(frozen=True)
class EvalSplit:
    """One data set: train/test pairs and, for CLINC150, validation and out-of-scope queries."""

    train: list[tuple[str, str]]
    test: list[tuple[str, str]]
    val: list[tuple[str, str]]
    oos_val: list[str]
    oos_test: list[str]


@dataclass(frozen=True)
class EvalReport:
    """Figures printed by `assistant kb eval`.

    Attributes:
        dataset: banking77 or clinc150.
        articles: articles built (intents).
        queries: in-scope test queries.
        top1, top3: gold article first / among the first three (ranking only, abstention ignored).
        threshold: the threshold applied (the `search_threshold` setting unless overridden).
        abstain_rate: share of in-scope test queries abstained on.
        in_scope_accuracy: top-1 right and not abstained (CLINC150).
        oos_recall: share of out-of-scope test queries abstained on (CLINC150).
        calibrated_threshold: the value the validation split suggests (CLINC150), else None.
    """

    dataset: str
    articles: int
    queries: int
    top1: float
    top3: float
    threshold: float
    abstain_rate: float
    in_scope_accuracy: float | None = None
    oos_recall: float | None = None
    oos_queries: int = 0
    calibrated_threshold: float | None = None


def load_dataset(name: str, data_dir: Path) -> EvalSplit:
    """Read a data set from the shared eval folder; a missing file is an `InputError`."""
    if name not in DATASETS:
        raise InputError(f"unknown dataset {name!r} (use {' or '.join(DATASETS)})")
    try:
        if name == "banking77":

            def rows(file: str) -> list[tuple[str, str]]:
                with (data_dir / file).open(encoding="utf-8", newline="") as fh:
                    return [(r["text"], r["category"]) for r in csv.DictReader(fh)]

            return EvalSplit(rows("banking77_train.csv"), rows("banking77_test.csv"), [], [], [])
        data = json.loads((data_dir / "clinc150_full.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"eval data file {exc.filename} not found (use --data-dir)") from None
    pairs = {k: [(t, label) for t, label in data[k]] for k in ("train", "test", "val")}
    return EvalSplit(
        pairs["train"],
        pairs["test"],
        pairs["val"],
        [t for t, _ in data["oos_val"]],
        [t for t, _ in data["oos_test"]],
    )


def intent_articles(train: Sequence[tuple[str, str]]) -> list[Article]:
    """One article per intent; its train queries become its questions."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in train:
        by_intent.setdefault(intent, []).append(text)
    return [
        Article(
            id=intent.lower().replace("_", "-"),
            title=intent.replace("_", " ").capitalize(),
            body="",
            questions=tuple(dict.fromkeys(qs)),
        )
        for intent, qs in sorted(by_intent.items())
    ]


class CachedEmbedder:
    """Wraps an embedder and caches each call's vectors on disk by model and text hash."""

    def __init__(self, inner: Any, cache_dir: Path) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension
        self.cache_dir = cache_dir
        cache_dir.mkdir(parents=True, exist_ok=True)

    def embed(self, texts: Sequence[str]) -> Any:
        import numpy as np

        digest = hashlib.sha256(self.model_name.encode())
        for t in texts:
            digest.update(t.encode("utf-8") + b"\0")
        path = self.cache_dir / f"{digest.hexdigest()[:32]}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.inner.embed(texts)

        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        atomic_write(path, tmp.read_bytes())
        tmp.unlink(missing_ok=True)
        return vectors


def calibrate(in_scores: Sequence[float], oos_scores: Sequence[float]) -> float:
    """Lowest threshold abstaining on `TARGET_OOS_VAL_RECALL` of the validation OOS queries."""
    import numpy as np

    del in_scores  # kept in the signature: the rule may later weigh in-scope losses too
    return round(float(np.quantile(np.asarray(oos_scores), TARGET_OOS_VAL_RECALL)) + 1e-4, 3)


def run_eval(
    name: str, data_dir: Path, embedder: Any, cache_dir: Path, threshold: float | None = None
) -> EvalReport:
    """Build the data set's knowledge base in a temp folder, search every test query, score."""

    split = load_dataset(name, data_dir)
    articles = intent_articles(split.train)
    ids = {a.title: a.id for a in articles}
    gold_of = {intent: intent.lower().replace("_", "-") for _, intent in split.train}
    cached = CachedEmbedder(embedder, cache_dir)
    thr = float(config.get().search_threshold) if threshold is None else threshold
    with tempfile.TemporaryDirectory(prefix="kb-eval-") as tmp:
        index, _ = build_index(articles, Path(tmp), cached)
    options = SearchOptions(k=3, threshold=thr)

    def run(texts: list[str]) -> list[Any]:
        return search_many(texts, options, index=index, embedder=cached)

    test = run([t for t, _ in split.test])
    gold = [gold_of.get(intent, "") for _, intent in split.test]
    ranked = [[h.article_id for h in r.hits] for r in test]
    top1 = sum(bool(r) and r[0] == g for r, g in zip(ranked, gold, strict=True)) / len(test)
    top3 = sum(g in r[:3] for r, g in zip(ranked, gold, strict=True)) / len(test)
    abstain = sum(r.abstained for r in test) / len(test)
    report = EvalReport(name, len(ids), len(test), round(top1, 4), round(top3, 4), thr, round(abstain, 4))
    if not split.oos_test:
        return report
    val = run([t for t, _ in split.val])
    oos_val = run(split.oos_val)
    calibrated = calibrate([r.hits[0].score for r in val], [r.hits[0].score for r in oos_val])
    oos = run(split.oos_test)
    correct = sum(
        (not r.abstained) and bool(r.hits) and r.hits[0].article_id == g
        for r, g in zip(test, gold, strict=True)
    )
    return replace(
        report,
        in_scope_accuracy=round(correct / len(test), 4),
        oos_recall=round(sum(r.abstained for r in oos) / len(oos), 4),
        oos_queries=len(oos),
        calibrated_threshold=calibrated,
    )
