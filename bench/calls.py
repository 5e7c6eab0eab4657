"""Benchmark: calls end to end against plain faster-whisper on the same files, in the same run.

For each file, interleaved so machine load hits both alike:
- assistant: `CallProcessor.process_file` (decode, VAD, Whisper on each channel, language,
  translation, redaction, sentiment, suggestions, summary) plus the DuckDB write;
- plain: faster-whisper on the same loaded model, as a user would run it on the file:
  `decode_audio(path)` (stereo mixed to mono), `transcribe(beam_size=5, vad_filter=True)`, and when
  the detected language is not the agent's, `transcribe(task="translate")` in that language
  (faster-whisper's defaults otherwise: temperature fallback, previous-text conditioning).

The ratio assistant / plain is the reported figure (model loading excluded: both share one model,
loaded and warmed up first). Where the assistant's time goes is printed per stage (exclusive
times: VAD inside a transcription counts as VAD). Files are grouped by type: language (the call's,
as the assistant decided), short (< 20 s) or long, mono or stereo.

Run: .venv/bin/python bench/calls.py [AUDIO or DIR ...] [--repeat 1] [--limit-per-dir N]
Default: the bundled samples and ../shared/eval/real-dev/{lang,digits} when present.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
EVAL = Path(os.environ.get("ASSISTANT_EVAL_DIR", REPO.parent / "shared" / "eval"))
DEFAULT = [REPO / "samples", EVAL / "real-dev" / "lang", EVAL / "real-dev" / "digits"]
STAGES = (
    "decode",
    "VAD",
    "transcribe",
    "language",
    "translate",
    "redact",
    "sentiment",
    "search",
    "summary",
    "store",
    "other",
)
SHORT_SECONDS = 20.0


class Stages:
    """Exclusive wall time per stage: a timed call inside another is charged to its own stage."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._stack: list[list[float]] = []  # per open call: [time spent in nested timed calls]

    def timed(self, stage: str | Callable[..., str], fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            name = stage(*args, **kwargs) if callable(stage) else stage
            self._stack.append([0.0])
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.perf_counter() - t0
                nested = self._stack.pop()[0]
                self.totals[name] += spent - nested
                if self._stack:
                    self._stack[-1][0] += spent

        return wrapper

    def install(self) -> None:
        """Wrap the functions each stage runs (by module attribute, where callers look them up)."""
        import faster_whisper.transcribe
        import faster_whisper.vad

        from assistant import storage
        from assistant.calls import processor
        from assistant.language import detect
        from assistant.privacy.gate import CaptureWindow
        from assistant.speech import transcription

        def whisper_task(_self: Any, _audio: Any, options: Any, *a: Any, **k: Any) -> str:
            return "translate" if options.task == "translate" else "transcribe"

        # Each function is timed where the pipeline looks it up (the module that imported it).
        fw = transcription.FasterWhisperTranscriber
        patches: list[tuple[Any, str, str | Callable[..., str]]] = [
            (processor, "load_tracks", "decode"),
            (transcription, "load_tracks", "decode"),
            (faster_whisper.vad, "get_speech_timestamps", "VAD"),
            (faster_whisper.transcribe, "get_speech_timestamps", "VAD"),
            (fw, "transcribe", whisper_task),
            (fw, "_detect", "language"),
            (detect, "detect_all", "language"),
            (processor.CallProcessor, "_text_translation", "translate"),
            (CaptureWindow, "final", "redact"),
            (processor, "utterance_sentiment", "sentiment"),
            (processor, "call_sentiment", "sentiment"),
            (processor, "search_many", "search"),
            (processor, "summarise", "summary"),
            (storage, "save_call", "store"),
        ]
        for owner, name, stage in patches:
            setattr(owner, name, self.timed(stage, getattr(owner, name)))

    def take(self) -> dict[str, float]:
        out = dict(self.totals)
        self.totals.clear()
        return out


def plain_faster_whisper(model: Any, path: Path, agent_language: str) -> str:
    """What a user of faster-whisper alone would run on the file; returns the detected language."""
    import ctranslate2
    from faster_whisper import decode_audio

    ctranslate2.set_random_seed(0)
    samples = decode_audio(str(path))
    segments, info = model.transcribe(samples, beam_size=5, vad_filter=True)
    list(segments)
    if info.language != agent_language:
        segments, _ = model.transcribe(
            samples, task="translate", language=info.language, beam_size=5, vad_filter=True
        )
        list(segments)
    return str(info.language)


def files_from(args: list[str], limit: int | None) -> list[Path]:
    out: list[Path] = []
    for item in args:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in (".wav", ".flac", ".mp3"))
            out.extend(found[:limit] if limit else found)
        elif p.is_file():
            out.append(p)
    return out


def channel_count(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return int(container.streams.audio[0].codec_context.channels)


def kind_of(language: str, duration: float, channels: int) -> str:
    length = "short" if duration < SHORT_SECONDS else "long"
    return f"{language} {length} {'stereo' if channels > 1 else 'mono'}"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("audio", nargs="*", default=[str(p) for p in DEFAULT if p.exists()])
    parser.add_argument("--repeat", type=int, default=1, help="best of N for each side")
    parser.add_argument("--limit-per-dir", type=int, default=None, help="first N files of each directory")
    args = parser.parse_args()

    from assistant import config, storage
    from assistant.calls.processor import CallProcessor

    files = files_from(args.audio, args.limit_per_dir)
    cfg = config.get()
    print(
        f"load average at start {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); threads={cfg.threads} "
        f"compute={cfg.compute_type} beam={cfg.beam_size}; {len(files)} files",
        flush=True,
    )
    processor = CallProcessor()
    t0 = time.perf_counter()
    processor.process_file(REPO / "samples" / "call-es-food.wav", call_id="warm-up")  # loads every engine
    model = processor.transcriber._model
    plain_faster_whisper(model, REPO / "samples" / "call-es-food.wav", processor.options.agent_language)
    print(f"engines loaded and warmed up in {time.perf_counter() - t0:.1f} s", flush=True)
    stages = Stages()
    stages.install()

    rows: list[dict[str, Any]] = []
    head = f"{'file':<34} {'type':<18} {'dur s':>6} {'assist s':>8} {'plain s':>8} {'ratio':>6} {'x dur':>6}"
    print(head + "  top stages (s)", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        con = storage.open_db(Path(tmp) / "bench.duckdb")
        for n, path in enumerate(files):
            best_a = best_p = float("inf")
            best_stages: dict[str, float] = {}
            record: Any = None
            for _ in range(args.repeat):
                t = time.perf_counter()
                plain_faster_whisper(model, path, processor.options.agent_language)
                best_p = min(best_p, time.perf_counter() - t)
                stages.take()
                t = time.perf_counter()
                record = processor.process_file(path, call_id=f"bench-{n}")
                storage.save_call(con, record)
                spent = time.perf_counter() - t
                taken = stages.take()
                if spent < best_a:
                    best_a, best_stages = spent, taken
            best_stages["other"] = max(0.0, best_a - sum(best_stages.values()))
            channels = channel_count(path)
            row = {
                "file": path.name,
                "type": kind_of(record.language or "?", record.duration or 0.0, channels),
                "duration": record.duration or 0.0,
                "assistant": best_a,
                "plain": best_p,
                "stages": best_stages,
            }
            rows.append(row)
            top = sorted(best_stages.items(), key=lambda kv: -kv[1])[:3]
            print(
                f"{row['file'][:34]:<34} {row['type']:<18} {row['duration']:>6.1f} {best_a:>8.2f} {best_p:>8.2f} "
                f"{best_a / best_p:>6.2f} {best_a / max(row['duration'], 1e-9):>6.3f}  "
                + " ".join(f"{k}={v:.2f}" for k, v in top),
                flush=True,
            )
        con.close()

    print("\nby file type (sums over the files of the type):")
    print(
        f"{'type':<18} {'files':>5} {'audio s':>8} {'assist s':>8} {'plain s':>8} {'ratio':>6}  "
        + " ".join(f"{s:>10}" for s in STAGES)
    )
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["type"]].append(r)
    groups["all"] = rows
    for kind in sorted(groups, key=lambda k: (k == "all", k)):
        rs = groups[kind]
        a = sum(r["assistant"] for r in rs)
        p = sum(r["plain"] for r in rs)
        per = [sum(r["stages"].get(s, 0.0) for r in rs) for s in STAGES]
        print(
            f"{kind:<18} {len(rs):>5} {sum(r['duration'] for r in rs):>8.1f} {a:>8.2f} {p:>8.2f} {a / p:>6.2f}  "
            + " ".join(f"{v:>10.2f}" for v in per)
        )
    worst = max(rows, key=lambda r: r["assistant"] / r["plain"]) if rows else None
    if worst:
        print(f"\nworst file: {worst['file']} at {worst['assistant'] / worst['plain']:.2f}x plain")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
