"""Benchmark: mono diarization of a long call (goal: a 10-minute mono call in under 60 s).

Builds a mono call of the wanted length from two-voice calls mixed down (the eval set's real
digits calls when ASSISTANT_EVAL_DIR or ../shared/eval has them, else the bundled samples),
repeated end to end, at 8 kHz telephone
rate decoded to 16 kHz as a recording would be. Times the diarization alone (Silero VAD, voice
encoder, clustering, turn labels; Whisper excluded), after one warm-up on a short clip so model
loading is not counted. Prints wall and CPU seconds per stage, and turns and voices found.

The machine is shared: CPU seconds of this process are the steadier figure; the wall time is
what a user waits on a loaded machine.

Run: .venv/bin/python bench/diarization.py [--minutes 10] [AUDIO ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
EVAL = Path(os.environ.get("ASSISTANT_EVAL_DIR", REPO.parent / "shared" / "eval"))


def _sources(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    digits = sorted((EVAL / "real-dev" / "digits").glob("*.wav"))
    return digits or sorted((REPO / "samples").glob("*.wav"))


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("audio", nargs="*", help="stereo or mono calls to mix down and repeat")
    ap.add_argument("--minutes", type=float, default=10.0)
    args = ap.parse_args()

    from assistant.speech import diarization as dz
    from assistant.speech.audio import SAMPLE_RATE, load_tracks, resample
    from assistant.speech.transcription import speech_spans

    parts = []
    for path in _sources(args.audio):
        tracks = load_tracks(path)
        mono = np.sum([t.samples for t in tracks], axis=0).astype(np.float32)
        parts.append(resample(resample(mono, SAMPLE_RATE, 8000), 8000, SAMPLE_RATE))
    if not parts:
        sys.exit("no audio found: give calls on the command line")
    one = np.concatenate(parts)
    want = int(args.minutes * 60 * SAMPLE_RATE)
    audio = np.tile(one, want // len(one) + 1)[:want]

    dz.diarize(
        one[: 20 * SAMPLE_RATE], speech_spans(one[: 20 * SAMPLE_RATE])
    )  # warm-up: loads the encoder, librosa, the VAD

    w0, c0 = _clock()
    spans = speech_spans(audio)
    w1, c1 = _clock()
    turns = dz.diarize(audio, spans)
    w2, c2 = _clock()
    speech = sum(b - a for a, b in spans)
    print(
        f"audio {len(audio) / SAMPLE_RATE / 60:.1f} min mono "
        f"({', '.join(p.name for p in _sources(args.audio))} mixed, repeated), speech {speech:.0f} s"
    )
    print(f"VAD          wall {w1 - w0:6.1f} s   cpu {c1 - c0:6.1f} s")
    print(f"embed+label  wall {w2 - w1:6.1f} s   cpu {c2 - c1:6.1f} s")
    print(f"diarization  wall {w2 - w0:6.1f} s   cpu {c2 - c0:6.1f} s   (goal: < 60 s for 10 min)")
    print(f"turns {len(turns)}, voices {sorted({t.speaker for t in turns})}")


if __name__ == "__main__":
    main()
