"""`assistant translate` and `assistant detect`: text translation and text language detection."""

from __future__ import annotations

import argparse
import json
import sys

from assistant.errors import InputError
from assistant.language.detect import detect
from assistant.language.translation import translate


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("translate", help="translate text with the installed language packs")
    p.add_argument("text", metavar="TEXT", help="the text to translate")
    p.add_argument("--to", required=True, metavar="CODE", help="target language (ISO 639-1, e.g. en)")
    p.add_argument("--from", dest="source", metavar="CODE", help="source language (default: detected)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run_translate)

    d = subparsers.add_parser("detect", help="detect the language of a text")
    d.add_argument("text", metavar="TEXT", nargs="?", help="the text to look at")
    d.add_argument("--lines-file", metavar="FILE", help="detect each line of FILE (one result per line)")
    d.add_argument("--json", action="store_true", help="print JSON ({language, probability})")
    d.set_defaults(func=run_detect)


def run_translate(args: argparse.Namespace) -> int:

    result = translate(args.text, args.to, args.source)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    print(result.text)
    # The label goes to stderr so stdout stays the bare text for pipes, and a person still sees it.
    if result.machine_translated:
        print(f"[machine-translated {result.source}->{result.target} by {result.engine}]", file=sys.stderr)
    else:
        print(f"[not translated: text is already {result.target}]", file=sys.stderr)
    return 0


def run_detect(args: argparse.Namespace) -> int:

    if args.lines_file:
        if args.text is not None:
            raise InputError("give TEXT or --lines-file, not both")
        return _detect_lines(args.lines_file, args.json)
    if args.text is None:
        raise InputError("give TEXT to detect, or --lines-file FILE")
    guess = detect(args.text)
    if args.json:
        print(json.dumps({"language": guess.language, "probability": guess.probability}))
    else:
        print(f"{guess.language}\t{guess.probability:.4f}")
    return 0


def _detect_lines(path: str, as_json: bool) -> int:
    from pathlib import Path

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    for line in lines:
        # One output line per input line, so results stay aligned with the input; a line that
        # cannot be detected says why instead of stopping the run.
        try:
            guess = detect(line)
            row = {"language": guess.language, "probability": guess.probability}
        except InputError as exc:
            row = {"language": None, "probability": 0.0, "error": str(exc)}
        if as_json:
            print(json.dumps(row))
        else:
            print(f"{row['language'] or '-'}\t{row['probability']:.4f}")
    return 0
