"""Knowledge-search benchmark: query latency, build throughput, memory, approximate-index recall, and
proof that changing one article re-embeds only that article.

Run: .venv/bin/python bench/retrieval.py [--sizes 100,10000,100000] [--queries 200]

It also prints the multilingual route (docs/retrieval.md): the encoder's resident memory once
loaded, and the latency of a Spanish query (one real multilingual embedding plus the exact search
over the multilingual vectors) at each size up to 10,000 articles.

Synthetic articles at 10k/100k reuse a pool of really embedded sentences plus Gaussian noise
(re-normalised), so the index sees realistic vectors without embedding 100k texts. Every query is a
real embedding call followed by a search, which is what a live call pays.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assistant.knowledge.articles import Article  # noqa: E402
from assistant.knowledge.index import build_index, make_faiss  # noqa: E402
from assistant.knowledge.search import APPROX_MIN_PASSAGES, Embedder, KnowledgeIndex, SearchOptions  # noqa: E402

SUBJECTS = [
    "driving licence",
    "property tax",
    "parking permit",
    "food stamps",
    "veteran pension",
    "dog licence",
    "building permit",
    "water bill",
    "birth certificate",
    "unemployment benefit",
    "passport",
    "pothole",
    "trash pickup",
    "business licence",
    "housing voucher",
    "tax refund",
    "marriage licence",
    "child care",
]
ACTIONS = [
    "How do I renew my",
    "Where can I apply for a",
    "What documents do I need for a",
    "How long does it take to get a",
    "Can I pay online for my",
    "Who do I call about my",
    "How much does it cost to get a",
    "I lost my",
]
PASSAGES_PER_ARTICLE = 5
RSS_MB = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # noqa: E731


ENDINGS = ["", " this week", " for my mother", " online", " in person", " after I moved"]


def sentences() -> list[str]:
    return [f"{a} {s}{e}?" for a in ACTIONS for s in SUBJECTS for e in ENDINGS]


def synthetic_index(pool: np.ndarray, n_articles: int, rng: np.random.Generator, kind: str) -> KnowledgeIndex:
    n = n_articles * PASSAGES_PER_ARTICLE
    base = pool[rng.integers(0, len(pool), n)]
    vectors = base + rng.standard_normal(base.shape, dtype=np.float32) * np.float32(
        0.6 / np.sqrt(pool.shape[1])
    )
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.astype(np.float32)
    articles = [
        {
            "id": f"a{i}",
            "title": f"Article {i}",
            "owner": None,
            "effective": None,
            "review_by": None,
            "language": "en",
            "program": None,
            "hash": "",
        }
        for i in range(n_articles)
    ]
    return KnowledgeIndex(
        model_name="bench",
        dimension=pool.shape[1],
        articles=articles,
        passage_article=np.repeat(np.arange(n_articles), PASSAGES_PER_ARTICLE),
        passage_text=[""] * n,
        vectors=vectors,
        faiss_index=make_faiss(vectors, kind),
        index_kind=kind,
    )


def rss_mb() -> float:
    """Resident memory now (not the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def noisy(pool: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    base = pool[rng.integers(0, len(pool), n)]
    vectors = base + rng.standard_normal(base.shape, dtype=np.float32) * np.float32(
        0.6 / np.sqrt(pool.shape[1])
    )
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def latency(
    index: KnowledgeIndex, embedder: Any, queries: list[str], multilingual: bool = False
) -> tuple[float, float]:
    times = []
    options = SearchOptions(k=3)
    for q in queries:
        t0 = time.perf_counter()
        vec = embedder.embed([q])[0]
        index.search_vector(
            q, vec, options, 0.52, multilingual=multilingual, language="es" if multilingual else ""
        )
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def recall_at_5(approx: KnowledgeIndex, exact: KnowledgeIndex, qvecs: np.ndarray) -> float:
    _, a = approx.faiss_index.search(qvecs, 5)
    _, e = exact.faiss_index.search(qvecs, 5)
    return float(np.mean([len(set(x) & set(y)) / 5 for x, y in zip(a, e, strict=True)]))


def rebuild_demo(embedder: Embedder, n: int = 200) -> tuple[float, int, int, int]:
    arts = [
        Article(
            id=f"art-{i}",
            title=f"{SUBJECTS[i % len(SUBJECTS)].title()} help {i}",
            questions=tuple(f"{a} {SUBJECTS[i % len(SUBJECTS)]} number {i}?" for a in ACTIONS[:3]),
            body=f"Answer {i}: call the {SUBJECTS[i % len(SUBJECTS)]} office or apply online.",
            effective=dt.date(2025, 1, 1),
        )
        for i in range(n)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        _, first = build_index(arts, tmp, embedder)
        seconds = time.perf_counter() - t0
        arts[7] = Article(**{**arts[7].__dict__, "body": "Answer 7 changed: visit any office."})
        _, second = build_index(arts, tmp, embedder)
    return first.embedded / seconds, first.embedded, second.changed, second.embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    embedder = Embedder()
    pool_texts = sentences()
    pool = embedder.embed(pool_texts)
    queries = [
        f"{ACTIONS[rng.integers(len(ACTIONS))].lower()} {SUBJECTS[rng.integers(len(SUBJECTS))]} please"
        for _ in range(args.queries)
    ]
    embedder.embed(queries[:5])  # warm-up

    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        passages = n * PASSAGES_PER_ARTICLE
        kind = "ivf" if passages >= APPROX_MIN_PASSAGES else "flat"
        t0 = time.perf_counter()
        index = synthetic_index(pool, n, np.random.default_rng(1), kind)
        add_s = time.perf_counter() - t0
        p50, p95 = latency(index, embedder, queries)
        recall = ""
        if kind != "flat":
            t1 = time.perf_counter()
            exact = synthetic_index(pool, n, np.random.default_rng(1), "flat")
            exact_s = time.perf_counter() - t1
            qv = embedder.embed(queries)
            recall = f"{recall_at_5(index, exact, qv):.3f}"
            fp50, fp95 = latency(exact, embedder, queries)
            rows.append((n, passages, "flat", f"{fp50:.1f}", f"{fp95:.1f}", "", f"{passages / exact_s:,.0f}"))
            del exact
        rows.append((n, passages, kind, f"{p50:.1f}", f"{p95:.1f}", recall, f"{passages / add_s:,.0f}"))
        del index

    print(
        "\nquery latency (embed + search), synthetic articles, "
        f"{PASSAGES_PER_ARTICLE} passages each, {args.queries} queries"
    )
    print(
        f"{'articles':>9} {'passages':>9} {'index':>6} {'p50 ms':>7} {'p95 ms':>7} {'recall@5':>9} {'add/s':>10}"
    )
    for r in rows:
        print(f"{r[0]:>9,} {r[1]:>9,} {r[2]:>6} {r[3]:>7} {r[4]:>7} {r[5]:>9} {r[6]:>10}")
    before = rss_mb()
    second = embedder.multilingual
    ml_pool = second.embed(pool_texts)
    grown = rss_mb() - before
    spanish = [
        f"¿{a} {s}?"
        for a in ("cómo renuevo mi", "dónde pido", "perdí mi", "cuánto cuesta")
        for s in ("licencia de manejar", "tarjeta EBT", "factura del agua", "acta de nacimiento")
    ]
    spanish = [spanish[i % len(spanish)] for i in range(args.queries)]
    print("\nmultilingual route: one real multilingual embedding + exact numpy search, Spanish queries")
    print(f"encoder loaded: resident memory +{grown:,.0f} MB")
    print(f"{'articles':>9} {'passages':>9} {'p50 ms':>7} {'p95 ms':>7} {'index MB':>9}")
    for n in (int(s) for s in args.sizes.split(",")):
        if n > 10_000:
            continue
        index = synthetic_index(pool, n, np.random.default_rng(1), "flat")
        index.ml_vectors = noisy(ml_pool, n * PASSAGES_PER_ARTICLE, np.random.default_rng(2))
        p50, p95 = latency(index, second, spanish, multilingual=True)
        print(
            f"{n:>9,} {n * PASSAGES_PER_ARTICLE:>9,} {p50:>7.1f} {p95:>7.1f} {index.ml_vectors.nbytes / 2**20:>9.0f}"
        )
        del index

    rate, embedded, changed, re_embedded = rebuild_demo(embedder)
    print(f"\nbuild throughput (real embedding, 200 articles): {rate:,.0f} passages/s ({embedded} passages)")
    print(f"change one article and rebuild: changed {changed} article, re-embedded {re_embedded} passage(s)")
    print(f"peak RSS: {RSS_MB():,.0f} MB")


if __name__ == "__main__":
    main()
