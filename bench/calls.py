"""Benchmark: one call end to end (decode, Whisper on both channels, language, translation,
redaction, sentiment, suggestions, summary, DuckDB write) as a fraction of the call's duration.

Engines are loaded and warmed up once first (a batch or the service pays that once).
Run: .venv/bin/python bench/calls.py [AUDIO ...] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT = [
    REPO / "samples" / "call-en-payment-pii.wav",
    REPO / "samples" / "call-en-benefits.wav",
    REPO / "samples" / "call-es-food.wav",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("audio", nargs="*", default=[str(p) for p in DEFAULT])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from assistant import storage
    from assistant.calls.processor import CallProcessor

    processor = CallProcessor()
    t0 = time.perf_counter()
    processor.process_file(DEFAULT[2], call_id="warm-up")  # loads Whisper, MiniLM, the index
    print(f"engines loaded and warmed up in {time.perf_counter() - t0:.1f} s")
    print(f"{'file':<28} {'duration s':>10} {'process s':>10} {'store s':>8} {'x duration':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        con = storage.open_db(Path(tmp) / "bench.duckdb")
        for path in args.audio:
            best_p = best_s = float("inf")
            record = None
            for _ in range(args.repeat):
                t = time.perf_counter()
                record = processor.process_file(path)
                p = time.perf_counter() - t
                t = time.perf_counter()
                storage.save_call(con, record)
                s = time.perf_counter() - t
                if p + s < best_p + best_s:
                    best_p, best_s = p, s
            assert record is not None and record.duration
            ratio = (best_p + best_s) / record.duration
            print(
                f"{Path(path).name:<28} {record.duration:>10.1f} {best_p:>10.2f} {best_s:>8.3f} {ratio:>11.3f}"
            )
        con.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
