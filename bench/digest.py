"""Benchmark the daily digest.

Default: a day of 10,000 calls, written straight to storage with `storage.save_call` (no Whisper
and no knowledge-base search per call: suggestions are simulated, see tests/digest_history.py),
then the digest of that day is timed (read calls, problems, embedding, clustering, registry,
storing). Target: < 30 s.

--scenario: the acceptance history instead: 8 days x 300 text-only calls with a stable topic mix,
then a day where a new problem with no article takes 20% of the calls, all through the JSONL
ingest (CallProcessor: redaction, sentiment, KB search; takes several minutes), then the digest of
the last day (backfilling the 8 days before it). Prints planted vs found calls per topic and the
emerging / knowledge-gap flags.

Run: .venv/bin/python bench/digest.py [--calls 10000] [--scenario [--per-day 300]]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


class TimedEmbedder:
    """Wraps an embedder and adds up the seconds spent embedding."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds = inner, 0.0

    def real(self):
        """The wrapped model (the digest then also anchors statements to articles, as in the service)."""
        return self.inner

    def embed(self, texts):
        t = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - t


def big_day(n: int, tmp: Path, db: Path | None = None) -> int:
    from digest_history import direct_records

    from assistant import storage
    from assistant.digest.build import default_embedder, run_digest
    from assistant.digest.model import DigestOptions

    day = date(2026, 3, 2)
    con = storage.open_db(db or tmp / "big.duckdb")
    have = con.execute("SELECT count(*) FROM calls").fetchone()[0]
    if have != n:
        con.execute("DELETE FROM calls")
        t = time.perf_counter()
        for record in direct_records(day, n):
            storage.save_call(con, record)
        print(f"wrote {n} calls straight to storage in {time.perf_counter() - t:.1f} s (not timed below)")
    embedder = TimedEmbedder(default_embedder())
    embedder.embed(["warm up the model"])  # loading the model is paid once per process, not per day
    from assistant.digest.build import _knowledge_index

    _knowledge_index(embedder.inner)  # the service keeps the knowledge index loaded; build it untimed
    embedder.seconds = 0.0
    t = time.perf_counter()
    storage.calls_for_day(con, day)
    read = time.perf_counter() - t
    t, cpu = time.perf_counter(), time.process_time()
    digest = run_digest(con, day, embedder, DigestOptions.from_config(), backfill=False)
    took, cpu = time.perf_counter() - t, time.process_time() - cpu
    con.close()
    print(
        f"stages: reading the day's calls {read:.1f} s, embedding {embedder.seconds:.1f} s (both inside the total)"
    )
    print(
        f"digest of a day with {digest.total_calls} calls: {took:.1f} s wall, {cpu:.1f} s CPU (target < 30 s); "
        f"{digest.embedded} distinct statements embedded, {len(digest.topics)} topics"
    )
    for t in digest.topics[:8]:
        print(f"  {t.calls:>6}  gap {t.knowledge_gap:>4.0%}  langs {dict(t.languages)}  {t.label}")
    return 0


def scenario(per_day: int, tmp: Path) -> int:
    from digest_history import TOPICS, history, write_jsonl

    from assistant import storage
    from assistant.batch.ingest import ingest
    from assistant.digest.build import default_embedder, run_digest
    from assistant.digest.model import DigestOptions

    first = date(2026, 2, 1)
    calls, truth = history(first, days=8, calls_per_day=per_day, new_share=0.2)
    db = tmp / "history.duckdb"
    t = time.perf_counter()
    report = ingest(write_jsonl(calls, tmp / "history.jsonl"), db)
    print(f"ingested {report.line()} in {time.perf_counter() - t:.0f} s")
    target = first + timedelta(days=8)
    con = storage.open_db(db)
    t = time.perf_counter()
    digest = run_digest(con, target, default_embedder(), DigestOptions.from_config())
    print(f"digest of {target} (with 8-day backfill) in {time.perf_counter() - t:.1f} s")
    con.close()
    print(f"{'planted topic':<24} {'planted':>7} {'found':>6} {'error':>6}  emerging  gap   label")
    used: set[str] = set()
    for topic, n in truth[target].most_common():
        article = TOPICS[topic][0]
        match = [t for t in digest.topics if t.article_id == article and t.topic_id not in used]
        if article is None:
            match = sorted(match, key=lambda t: -t.calls)[:1]
        found = match[0] if match else None
        if found:
            used.add(found.topic_id)
        calls_found = found.calls if found else 0
        print(
            f"{topic:<24} {n:>7} {calls_found:>6} {(calls_found - n) / n:>+6.0%}  "
            f"{str(found.emerging if found else None):<8}  {found.knowledge_gap if found else 0:>4.0%}  "
            f"{found.label if found else '-'}"
        )
    other = [t for t in digest.topics if t.topic_id not in used]
    print(f"other topics: {[(t.label, t.calls) for t in other]}; unassigned calls {digest.unassigned_calls}")
    print(
        f"emerging: {[t.label for t in digest.emerging]}; knowledge gaps: {[t.label for t in digest.knowledge_gaps]}"
    )
    print(digest.text)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--scenario", action="store_true", help="run the 8 x N + 1 history instead")
    parser.add_argument("--per-day", type=int, default=300)
    parser.add_argument(
        "--db", type=Path, help="keep the 10,000-call database here and reuse it on the next run"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ASSISTANT_HOME", str(Path(tmp) / "home"))
        if args.scenario:
            return scenario(args.per_day, Path(tmp))
        return big_day(args.calls, Path(tmp), args.db)


if __name__ == "__main__":
    raise SystemExit(main())
