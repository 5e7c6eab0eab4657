"""Benchmark: batch ingest throughput, local engine vs Ray with 1 and 2 workers, on this machine.

Prints audio hours per wall-clock hour for each engine, two ways: the whole batch (model loading
and Ray start-up included, as a user sees it) and steady state (first stored call to last, so
start-up is left out), and Ray's overhead per call (an empty actor round trip, and the pickled
size of a stored record). Every run ingests the same files into a fresh database.

Run: .venv/bin/python bench/scale.py [--copies 2] [--workers 1 2] [AUDIO ...]
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
import time
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT = sorted((REPO / "samples").glob("call-*.wav"))


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def _batch(folder: Path, audio: list[Path], copies: int) -> float:
    folder.mkdir()
    total = 0.0
    for c in range(copies):
        for p in audio:
            shutil.copy(p, folder / f"{p.stem}-{c}{p.suffix}")
            total += _seconds(p)
    return total


class Clock:
    """Progress sink that notes when the first and last call were stored."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.stored: list[float] = []

    def __call__(self, message: str) -> None:
        if message.endswith("stored"):
            self.stored.append(time.perf_counter())


def _row(name: str, audio_s: float, per_call_s: float, clock: Clock, end: float, n: int) -> str:
    whole = end - clock.start
    steady = clock.stored[-1] - clock.stored[0] if len(clock.stored) > 1 else float("nan")
    steady_audio = audio_s * (len(clock.stored) - 1) / n
    return (
        f"{name:<14} {len(clock.stored):>5} {whole:>8.1f} {audio_s / whole:>10.1f} "
        f"{steady:>9.1f} {steady_audio / steady:>11.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("audio", nargs="*", default=[str(p) for p in DEFAULT])
    parser.add_argument("--copies", type=int, default=2, help="how many times the batch holds each file")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    from assistant import config
    from assistant.batch.ingest import ingest
    from assistant.batch.ray_engine import ActorPool, RayOptions, import_ray, ingest_ray

    audio = [Path(p) for p in args.audio]
    cfg = config.get()
    print(
        f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
        f"whisper {cfg.whisper_model}, beam {cfg.beam_size}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "batch"
        audio_s = _batch(folder, audio, args.copies)
        n = len(audio) * args.copies
        per_call = audio_s / n
        print(f"batch: {n} calls, {audio_s / 60:.1f} audio minutes\n")
        header = (
            f"{'engine':<14} {'calls':>5} {'wall s':>8} {'audio h/h':>10} {'steady s':>9} {'steady h/h':>11}"
        )
        rows = [header, "-" * len(header)]

        clock = Clock()
        report = ingest(folder, Path(tmp) / "local.duckdb", progress=clock)
        rows.append(_row("local", audio_s, per_call, clock, time.perf_counter(), n))
        assert report.stored == n, report.line()

        ray = import_ray()
        t = time.perf_counter()
        ray.init(
            num_cpus=os.cpu_count() or 1,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            object_store_memory=256 * 1024 * 1024,
        )
        ray_start = time.perf_counter() - t
        try:
            for workers in args.workers:
                clock = Clock()
                report = ingest_ray(
                    folder,
                    Path(tmp) / f"ray{workers}.duckdb",
                    options=RayOptions(workers=workers),
                    progress=clock,
                )
                rows.append(_row(f"ray x{workers}", audio_s, per_call, clock, time.perf_counter(), n))
                assert report.stored == n, report.line()
            overhead, size = _overhead(ray, ActorPool, Path(tmp) / "local.duckdb")
        finally:
            ray.shutdown()
    print("\n".join(rows))
    print(
        f"\nray.init on this machine: {ray_start:.1f} s (once per batch, not in the wall times above)\n"
        f"Ray overhead per call: {overhead * 1000:.1f} ms actor round trip, "
        f"{size / 1024:.1f} KiB pickled record ({overhead / per_call * 100:.2f}% of a {per_call:.0f} s call)"
    )
    return 0


def _overhead(ray, pool_cls, db: Path) -> tuple[float, int]:
    """Mean empty actor round trip (s) and the mean pickled size of a stored record (bytes)."""
    from assistant import storage

    pool = pool_cls(ray, 1, 1)
    actor = pool.actors[0]
    ray.get(actor.pid.remote())
    t = time.perf_counter()
    for _ in range(50):
        ray.get(actor.pid.remote())
    overhead = (time.perf_counter() - t) / 50
    pool.shutdown()
    con = storage.open_db(db)
    try:
        ids = [c.call_id for c in storage.list_calls(con, limit=1000)]
        sizes = [len(pickle.dumps(storage.get_call(con, i))) for i in ids]
    finally:
        con.close()
    return overhead, sum(sizes) // max(1, len(sizes))


if __name__ == "__main__":
    raise SystemExit(main())
