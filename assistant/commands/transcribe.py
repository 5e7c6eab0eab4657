"""`assistant transcribe AUDIO`: speaker-labelled transcript of a recording."""

from __future__ import annotations

import argparse
import json

from assistant import config
from assistant.speech.audio import AudioOptions
from assistant.speech.transcription import TranscriptionOptions, format_segment, transcribe_file


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "transcribe", help="transcribe a recording (stereo: agent and caller channels; mono: diarized)"
    )
    p.add_argument("audio", help="audio file: wav, flac, mp3, ogg, m4a, webm; 8 kHz mu-law/A-law WAV")
    p.add_argument("--model", help="Whisper model: base (default), tiny.en, a local directory or .pt file")
    p.add_argument("--engine", help="faster-whisper (default) or openai-whisper")
    p.add_argument("--language", help="spoken language code (default: detect)")
    p.add_argument("--task", default="transcribe", help="transcribe (default) or translate (to English)")
    p.add_argument("--agent-channel", choices=["left", "right"], help="stereo channel that is the agent")
    p.add_argument("--mono", action="store_true", help="mix a stereo file to one track instead of splitting")
    p.add_argument(
        "--no-diarize", action="store_true", help="mono: one speaker 'unknown' instead of turns by voice"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    cfg = config.get()
    options = TranscriptionOptions.from_config(language=args.language, task=args.task)
    audio_options = AudioOptions(
        split_stereo=not args.mono, agent_channel=args.agent_channel or cfg.agent_channel
    )
    transcript = transcribe_file(
        args.audio,
        options,
        engine=args.engine,
        model=args.model,
        audio_options=audio_options,
        diarize_mono=not args.no_diarize,
    )
    if args.json:
        print(json.dumps(transcript.to_json(), ensure_ascii=False))
        return 0
    info = transcript.info
    print(
        f"# language {info.language} ({info.language_probability:.2f}), {info.duration:.1f} s, "
        f"{len(transcript.segments)} segments"
    )
    for seg in transcript.segments:
        print(format_segment(seg))
    return 0
