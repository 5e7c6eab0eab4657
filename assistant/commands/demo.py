"""`assistant demo`: the product on its built-in defaults (bundled models and sample calls)."""

from __future__ import annotations

import argparse

from assistant.config import REPO_ROOT

DEFAULT_SAMPLE = REPO_ROOT / "samples" / "call-en-benefits.wav"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("demo", help="transcribe a bundled sample call with the bundled models")
    p.add_argument(
        "audio", nargs="?", default=str(DEFAULT_SAMPLE), help="a recording (default: a sample call)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from assistant.transcription import TranscriptionOptions, format_segment, transcribe_file

    print(f"Transcribing {args.audio} (stereo: left = agent, right = caller) ...", flush=True)
    transcript = transcribe_file(args.audio, TranscriptionOptions.from_config())
    info = transcript.info
    print(
        f"Caller language: {info.language} (probability {info.language_probability:.2f}); "
        f"{info.duration:.1f} s of audio"
    )
    for seg in transcript.segments:
        print(format_segment(seg))
    return 0
