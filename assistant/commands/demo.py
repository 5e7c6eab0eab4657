"""`assistant demo`: the product on its built-in defaults (bundled models, sample knowledge base,
a sample call): transcript, redaction, suggested approved answers and the call summary."""

from __future__ import annotations

import argparse

from assistant import config, storage
from assistant.calls.processor import CallProcessor
from assistant.config import REPO_ROOT

DEFAULT_SAMPLE = REPO_ROOT / "samples" / "call-en-payment-pii.wav"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="process a bundled sample call with the bundled models and show the result"
    )
    p.add_argument(
        "audio", nargs="?", default=str(DEFAULT_SAMPLE), help="a recording (default: a sample call)"
    )
    p.add_argument("--db", help="store the call in this DuckDB file (default: the db setting)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from assistant.errors import InputError
    from assistant.service.client import running_service

    print(f"Processing {args.audio} (stereo: left = agent, right = caller) ...", flush=True)
    service = running_service(args.db)
    if service is not None:  # the service owns the database file: it processes with its models
        if not Path(args.audio).is_file():
            service.close()
            raise InputError(f"no recording at {args.audio!r}")
        with service:
            done = service.process_call(str(Path(args.audio).resolve()))
            detail = service.get_call(done["call_id"])
        print(f"Language: {detail['language']}; {detail['duration'] or 0:.1f} s\n")
        for u in detail["utterances"]:
            print(f"[{u['start'] or 0:5.1f}s] {u['speaker']}: {u['text']}")
            if u["translation"]:
                print(f"         machine translation: {u['translation']}")
        for x in detail["suggestions"]:
            said = (
                "no approved answer (the assistant abstains)"
                if x["abstained"]
                else (f"suggested article: {x['title']} [{x['article_id']}] confidence {x['score']:.2f}")
            )
            print(f"  -> {said} <- {x['utterance']}")
        print(f"\nSummary: {done['summary_text']}")
        print(f"\nStored (redacted) by the running service: see 'assistant calls show {done['call_id']}'")
        return 0
    record = CallProcessor().process_file(args.audio)
    print(f"Language: {record.language}; {record.duration or 0:.1f} s\n")
    suggested = {s.utterance_idx: s for s in record.suggestions}
    for i, u in enumerate(record.utterances):
        print(f"[{u.start or 0:5.1f}s] {u.speaker}: {u.text}")
        if u.translation:
            print(f"         machine translation: {u.translation}")
        s = suggested.get(i)
        if s is not None and s.abstained:
            print("         -> no approved answer (the assistant abstains)")
        elif s is not None:
            print(
                f"         -> suggested article: {s.article_title} [{s.article_id}] confidence {s.score:.2f}"
            )
    print(f"\nSummary: {record.summary_text}")
    db = args.db or config.get().db
    con = storage.open_db(db)
    try:
        storage.save_call(con, record)
    finally:
        con.close()
    print(f"\nStored (redacted) in {db}: see 'assistant calls show {record.call_id}'")
    return 0
