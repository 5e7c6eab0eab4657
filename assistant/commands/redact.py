"""`assistant redact`: print text with personal data replaced by typed placeholders."""

from __future__ import annotations

import argparse
import json
import sys

from assistant.errors import InputError
from assistant.privacy.gate import gate
from assistant.privacy.redaction import redact


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "redact",
        help="redact card numbers, SSNs, phone numbers, e-mails ... from text",
        description="Print TEXT with personal data replaced by [CARD], [SSN], [PHONE] ... "
        "With '-', redact standard input line by line (one line out per line in).",
    )
    p.add_argument("text", nargs="*", metavar="TEXT|-", help="text to redact, or - to read lines from stdin")
    p.add_argument("--json", action="store_true", help="print one JSON object per line: text and spans")
    p.set_defaults(func=run)


def _line(text: str, as_json: bool) -> str:

    if not as_json:
        return gate(text)  # the product's one gate (other languages' number words included)
    result = redact(text)  # spans are the core rules' (offsets into `text`)
    spans = [{"type": s.type, "start": s.start, "end": s.end} for s in result.spans]
    return json.dumps({"text": result.text, "spans": spans}, ensure_ascii=False)


def run(args: argparse.Namespace) -> int:

    words = args.text
    if words == ["-"]:
        # Undecodable bytes become U+FFFD rather than a crash; the digits around them still redact.
        stdin = sys.stdin
        if hasattr(stdin, "reconfigure"):
            stdin.reconfigure(errors="replace")
        for raw in stdin:
            print(_line(raw.rstrip("\r\n"), args.json), flush=True)
        return 0
    text = " ".join(words)
    if not text.strip():
        raise InputError("nothing to redact: give TEXT, or - to read lines from standard input")
    print(_line(text, args.json), flush=True)
    return 0
