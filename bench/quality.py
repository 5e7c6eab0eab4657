"""Benchmark and evaluation of quality review (issue 35). Prints figures; asserts nothing.

    PYTHONPATH=. python bench/quality.py scorecards   # agreement on tests/fixtures/quality and ../shared/eval/qa-dev
    PYTHONPATH=. python bench/quality.py metrics      # call metrics on ../shared/eval/metrics-dev against its gold
    PYTHONPATH=. python bench/quality.py wrapup       # wrap-up codes on ../shared/eval/dstc11-dev as chat calls
    PYTHONPATH=. python bench/quality.py day [N]      # score a day of N (10,000) stored calls against one scorecard

`day` stores 200 calls of 20 utterances with their utterance vectors (as after_call leaves them)
in a temporary DuckDB, copies them to N calls on one day, then times `review.score_calls` over
that day: reading, matching, storing the answers.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval"  # ../shared/eval from the checkout, as the eval README says
if not EVAL.exists():
    EVAL = Path("/work/shared/eval")


def scorecards() -> None:
    from assistant.quality.evaluation import evaluate
    from assistant.quality.meaning import shared_embedder

    embedder = shared_embedder()
    for folder in (ROOT / "tests" / "fixtures" / "quality", EVAL / "qa-dev"):
        began = time.perf_counter()
        r = evaluate(folder, embedder)
        print(
            f"{folder.name}: agreement {r.agreement:.3f} ({r.agree}/{r.answers}), evidence on the right "
            f"utterance {r.evidence_rate:.3f} ({r.evidence_right}/{r.evidence}), {time.perf_counter() - began:.1f} s"
        )


def metrics() -> None:
    from assistant.quality.metrics import call_metrics
    from assistant.speech.audio import AudioOptions, load_tracks
    from assistant.speech.transcription import speech_spans

    folder = EVAL / "metrics-dev"
    gold = json.loads((folder / "gold.json").read_text())
    for name, want in gold.items():
        tracks = load_tracks(folder / name, AudioOptions(agent_channel="left"))
        got = call_metrics({t.speaker: speech_spans(t.samples) for t in tracks}, want["duration_s"]).to_json()
        for key in ("talk_s", "overtalk_s", "non_talk_s", "longest_silence_s", "interruptions"):
            print(f"{name} {key}: {got[key]}  gold {want[key]}")


def wrapup() -> None:
    from assistant.quality.meaning import shared_embedder
    from assistant.quality.wrapup import Code, Suggester, words_of

    rows = [
        json.loads(x)
        for x in (EVAL / "dstc11-dev" / "utterances.jsonl").read_text().splitlines()
        if x.strip()
    ]
    intents = sorted({r["intent"] for r in rows})
    codes = [Code(i, words_of(i)) for i in intents]
    embedder = shared_embedder()
    began = time.perf_counter()
    needs = embedder.embed([r["utterance"] for r in rows])
    print(f"{len(rows)} calls, {len(codes)} codes; embedded in {time.perf_counter() - began:.1f} s")

    def measure(s: Suggester, idx: list[int]) -> tuple[float, float]:
        top1 = top3 = 0
        for i in idx:
            ranked = s.rank(needs[i])
            top1 += ranked[0] == rows[i]["intent"]
            top3 += rows[i]["intent"] in ranked
        return top1 / len(idx), top3 / len(idx)

    cold = Suggester(codes, embedder)
    t1, t3 = measure(cold, list(range(len(rows))))
    print(f"cold start: top-1 {t1:.3f}, top-3 {t3:.3f}")
    order = list(range(len(rows)))
    random.Random(35).shuffle(order)
    taught = Suggester(codes, embedder)
    for i in order[:300]:
        taught.learn(rows[i]["intent"], needs[i])
    t1, t3 = measure(taught, order[300:])
    print(f"after 300 confirmed calls: top-1 {t1:.3f}, top-3 {t3:.3f} on the other {len(order) - 300}")


def day(n: int) -> None:
    import numpy as np

    from assistant import storage
    from assistant.privacy.gate import safe_id
    from assistant.quality import review
    from assistant.quality.after_call import quantize
    from assistant.quality.meaning import pieces, shared_embedder
    from assistant.quality.scorecards import load_scorecard
    from assistant.storage import CallRecord, UtteranceRecord
    from assistant.storage import quality as qstore

    embedder = shared_embedder()
    card = load_scorecard(ROOT / "tests" / "fixtures" / "quality" / "scorecard.yaml")
    pool = []
    for line in (ROOT / "tests" / "fixtures" / "quality" / "calls.jsonl").read_text().splitlines():
        pool += json.loads(line)["utterances"]
    vec = {u["text"]: embedder.embed(pieces(u["text"])) for u in pool}
    rng = random.Random(35)
    seeds = 200  # calls stored through save_call; the day is made of copies of them (SQL), to save time
    from datetime import UTC, datetime

    with tempfile.TemporaryDirectory() as tmp:
        con = storage.open_db(Path(tmp) / "day.duckdb")
        for c in range(seeds):
            utts = [rng.choice(pool) for _ in range(20)]
            records = tuple(
                UtteranceRecord(u["speaker"], 2.5 * k, 2.5 * k + 2.0, u["text"], "en")
                for k, u in enumerate(utts)
            )
            call_id = f"seed-{c:05d}"
            storage.save_call(
                con,
                CallRecord(
                    call_id, datetime(2026, 11, 2, 9, tzinfo=UTC), "voice", "bench", utterances=records
                ),
            )
            qstore.save_vectors(
                con,
                safe_id(call_id),
                embedder.model_name,
                [(k, len(vec[u["text"]]), quantize(vec[u["text"]])) for k, u in enumerate(utts)],
            )
        # a stored id is the opaque one when the raw id looks like it could hold a number
        copies = [[f"day-{k:05d}", safe_id(f"seed-{k % seeds:05d}")] for k in range(n)]
        con.execute("CREATE TEMP TABLE copies (new_id VARCHAR, seed VARCHAR)")
        con.executemany("INSERT INTO copies VALUES (?, ?)", copies)
        con.execute(
            "INSERT INTO calls SELECT calls.* REPLACE (x.new_id AS call_id, TIMESTAMP '2026-11-03 09:00:00' AS started_at) "
            "FROM calls JOIN copies x ON calls.call_id = x.seed"
        )
        for table in ("utterances", "utterance_vectors"):
            con.execute(
                f"INSERT INTO {table} SELECT t.* REPLACE (x.new_id AS call_id) FROM {table} t "
                "JOIN copies x ON t.call_id = x.seed"
            )
        con.execute(
            "DELETE FROM calls WHERE call_id IN (SELECT new_id FROM copies) AND started_at < '2026-11-03'"
        )
        began = time.perf_counter()
        day_ids = review.calls_between(
            con, datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
        )
        scores = review.score_calls(con, card, day_ids, embedder)
        took = time.perf_counter() - began
        print(
            f"scored {len(scores)} calls x {len(card.questions)} questions (20 utterances each) in {took:.1f} s "
            f"({len(scores) / took:.0f} calls/s)"
        )
        yes = np.mean([a.answer == "yes" for s in scores for a in s.answers])
        print(f"share of yes answers: {yes:.2f}")
        con.close()


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "scorecards"
    if what == "day":
        day(int(sys.argv[2]) if len(sys.argv) > 2 else 10_000)
    else:
        {"scorecards": scorecards, "metrics": metrics, "wrapup": wrapup}[what]()
