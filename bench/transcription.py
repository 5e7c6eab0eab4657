"""Benchmark: Whisper real-time factor (processing time / audio duration) and peak memory.

Each model runs in its own process so its peak RSS is its own. The model is loaded and warmed
up once before timing; the figure is the median over the sample files of the best of `--repeat`.
Run: .venv/bin/python bench/transcription.py [--models base tiny.en] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FILES = [
    REPO / "samples" / "call-en-benefits.wav",
    REPO / "samples" / "call-en-payment-pii.wav",
    REPO.parent / "shared" / "eval" / "jfk.flac",
]


def child(model: str, repeat: int) -> None:
    import resource

    sys.path.insert(0, str(REPO))
    from assistant import config
    from assistant.speech.audio import load_tracks
    from assistant.speech.transcription import TranscriptionOptions, load_transcriber, transcribe_tracks

    cfg = config.get()
    t0 = time.perf_counter()
    engine = load_transcriber("faster-whisper", model)
    load_s = time.perf_counter() - t0
    opts = TranscriptionOptions.from_config()
    rows = []
    for path in FILES:
        tracks = load_tracks(path)
        audio_s = max(t.duration for t in tracks)
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            transcribe_tracks(tracks, engine, opts)
            best = min(best, time.perf_counter() - t)
        rows.append({"file": path.name, "audio_s": audio_s, "tracks": len(tracks), "seconds": best})
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(
        json.dumps(
            {
                "model": model,
                "load_s": load_s,
                "threads": cfg.threads,
                "compute": cfg.compute_type,
                "beam": cfg.beam_size,
                "rows": rows,
                "peak_rss_gib": rss,
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", nargs="+", default=["base", "tiny.en"])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.repeat)
        return 0
    print(f"{'model':<8} {'file':<26} {'audio s':>8} {'tracks':>6} {'proc s':>7} {'RTF':>6}")
    summary = []
    for model in args.models:
        out = subprocess.run(
            [sys.executable, __file__, "--child", model, "--repeat", str(args.repeat)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rtfs = []
        for r in result["rows"]:
            # A stereo call is two tracks of the full length; RTF is against the call's duration.
            rtf = r["seconds"] / r["audio_s"]
            rtfs.append(rtf)
            print(
                f"{model:<8} {r['file']:<26} {r['audio_s']:>8.1f} {r['tracks']:>6} {r['seconds']:>7.2f} {rtf:>6.3f}"
            )
        summary.append((model, statistics.median(rtfs), result["peak_rss_gib"], result["load_s"], result))
    print()
    print(f"{'model':<8} {'median RTF':>10} {'peak RSS GiB':>13} {'load s':>7}  settings")
    for model, rtf, rss, load_s, result in summary:
        print(
            f"{model:<8} {rtf:>10.3f} {rss:>13.2f} {load_s:>7.1f}  int8={result['compute']} "
            f"threads={result['threads']} beam={result['beam']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
