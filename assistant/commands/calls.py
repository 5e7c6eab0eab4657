"""Call commands: `process-call`, `calls list`, `calls show`, `feedback`, `ingest`."""

from __future__ import annotations

import argparse
import json

from assistant import storage
from assistant.batch import run as batch_run
from assistant.batch.ingest import IngestReport
from assistant.calls.processor import CallOptions, CallProcessor
from assistant.calls.views import call_detail, call_row, to_json
from assistant.commands import qa as qa_commands
from assistant.errors import InputError, check_text
from assistant.privacy.gate import gate
from assistant.quality.after_call import after_call
from assistant.service.client import running_service


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "process-call", help="transcribe, redact, suggest, summarise and store one call"
    )
    p.add_argument("audio", help="a call recording (stereo: agent and caller channels)")
    p.add_argument(
        "--call-id", help="id to store it under (default: the file name); an existing call is replaced"
    )
    p.add_argument("--language", help="the caller's language, when known (default: detect)")
    p.add_argument("--db", help="DuckDB file (default: the db setting)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run_process)

    c = subparsers.add_parser("calls", help="list or show stored calls")
    sub = c.add_subparsers(dest="calls_command", metavar="ACTION", required=True)
    ls = sub.add_parser("list", help="stored calls, newest first")
    ls.add_argument("--db")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--cursor", help="continue a listing where the previous page said 'more calls'")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    show = sub.add_parser("show", help="one call: transcript, suggestions, summary")
    show.add_argument("call_id")
    show.add_argument("--db")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)
    rm = sub.add_parser("delete", help="delete one call everywhere, on request (admin)")
    rm.add_argument("call_id")
    rm.add_argument("--db")
    rm.set_defaults(func=run_delete)
    qa_commands.register_calls(sub)  # calls wrapup ID CODE

    f = subparsers.add_parser("feedback", help="mark a suggestion helpful, not helpful or used")
    f.add_argument("call_id")
    f.add_argument("suggestion_id")
    kind = f.add_mutually_exclusive_group(required=True)
    kind.add_argument("--helpful", dest="kind", action="store_const", const="helpful")
    kind.add_argument("--not-helpful", dest="kind", action="store_const", const="not_helpful")
    kind.add_argument("--used", dest="kind", action="store_const", const="used")
    f.add_argument("--comment")
    f.add_argument("--db")
    f.set_defaults(func=run_feedback)

    i = subparsers.add_parser("ingest", help="ingest a folder of recordings or a JSONL file of transcripts")
    i.add_argument("source", help="a folder of recordings, one recording, or a .jsonl file")
    i.add_argument("--db")

    batch_run.add_engine_arguments(i)
    i.set_defaults(func=run_ingest)


def run_process(args: argparse.Namespace) -> int:
    from pathlib import Path

    options = CallOptions.from_config(language=args.language)  # a bad --language fails here, at once
    service = running_service(args.db)
    if service is not None:  # the service owns the database file: it processes with its models
        if not Path(args.audio).is_file():
            service.close()
            raise InputError(f"no recording at {args.audio!r}")
        with service:
            data = service.process_call(str(Path(args.audio).resolve()), args.call_id, args.language)
    else:
        processor = CallProcessor(options)
        record = processor.process_file(args.audio, call_id=args.call_id)
        con = storage.open_db(args.db)
        try:
            ids = storage.save_call(con, record)
            after_call(con, record.call_id, speech=record.speech)  # metrics, scorecards, wrap-up
        finally:
            con.close()
        data = to_json(record, ids)
    if args.json:
        print(json.dumps(data, ensure_ascii=False))
        return 0
    print(
        f"call {data['call_id']}: {data['duration']:.1f} s, language {data['language']}, outcome {data['outcome']}"
    )
    print(data["summary_text"])
    for s in data["suggestions"]:
        if s["abstained"]:
            print(f"  no approved answer (score {s['score']}): {s['utterance']}")
        else:
            print(f"  {s['suggestion_id']}  {s['article_id']}  {s['score']:.2f}  <- {s['utterance']}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    import sys

    service = running_service(args.db)
    if service is not None:  # the service owns the database file
        with service:
            rows, next_cursor = service.list_calls_page(args.limit, args.cursor)
    else:
        con = storage.open_db(args.db, read_only=False)
        try:
            calls, next_cursor = storage.list_calls_page(con, limit=args.limit, cursor=args.cursor)
        finally:
            con.close()
        rows = [call_row(c) for c in calls]
    more = f"more calls: --cursor {next_cursor}" if next_cursor else None
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        if more:
            print(more, file=sys.stderr)  # stdout stays one JSON value
        return 0
    for r in rows:
        duration = f"{r['duration']:.0f}s" if r["duration"] is not None else "-"
        print(
            f"{r['call_id']:<28} {r['started_at']:<26} {r['channel']:<6} {r['language'] or '-':<4} {duration:>6} {r['outcome']}"
        )
    if more:
        print(more)
    return 0


def run_show(args: argparse.Namespace) -> int:
    check_text(args.call_id, "the call id")
    service = running_service(args.db)
    if service is not None:  # the service owns the database file
        with service:
            data = service.find_call(args.call_id)
    else:
        con = storage.open_db(args.db)
        try:
            call = storage.get_call(con, args.call_id)
        finally:
            con.close()
        data = call_detail(call) if call is not None else None
    if data is None:
        raise InputError(f"no stored call with id {args.call_id!r} (see 'assistant calls list')")
    if args.json:
        print(json.dumps(data, ensure_ascii=False, default=str))
        return 0
    summary = data.get("summary") or {}
    print(f"call {data['call_id']}  {data['started_at']}  {data['language']}  {data['outcome']}")
    print(summary.get("text") or "")
    for u in data["utterances"]:
        start = f"{u['start']:6.1f}" if u["start"] is not None else "     -"
        print(f"{start}  {u['speaker']}: {u['text']}")
        if u["translation"]:
            kind = "machine translation" if u["machine_translated"] else "translation"
            print(f"        ({kind}): {u['translation']}")
    for s in data["suggestions"]:
        label = "no approved answer" if s["abstained"] else f"{s['article_id']} ({s['score']:.2f})"
        print(f"  suggestion {s['suggestion_id']}: {label}")
    return 0


def run_feedback(args: argparse.Namespace) -> int:

    for value, what in ((args.call_id, "the call id"), (args.suggestion_id, "the suggestion id")):
        check_text(value, what)
    comment = gate(check_text(args.comment, "--comment")) if args.comment else None
    service = running_service(args.db)
    if service is not None:  # the service owns the database file
        with service:
            data = service.feedback(args.call_id, args.suggestion_id, args.kind, comment)
        print(f"recorded {data['kind']} for {data['suggestion_id']}")
        return 0
    con = storage.open_db(args.db)
    try:
        fb = storage.add_feedback(con, args.call_id, args.suggestion_id, args.kind, comment)
    finally:
        con.close()
    print(f"recorded {fb.kind} for {fb.suggestion_id}")
    return 0


def run_ingest(args: argparse.Namespace) -> int:
    from pathlib import Path

    service = running_service(args.db)
    if service is not None:  # the service owns the database file: it ingests with its models
        if args.engine != "local":
            service.close()
            raise InputError(
                "the service owns the database while it runs; ingest through it uses --engine local"
            )
        with service:
            report = IngestReport.from_json(service.ingest(str(Path(args.source).resolve())))
        batch_run.print_report(report)
        return report.exit_code

    argv = [args.source] + (["--db", args.db] if args.db else [])
    argv += ["--engine", args.engine]
    argv += (["--address", args.address] if args.address else []) + (
        ["--workers", str(args.workers)] if args.workers is not None else []
    )
    return batch_run.main(argv)


def run_delete(args: argparse.Namespace) -> int:
    from assistant.identity.keys import LOCAL_KEY_NAME
    from assistant.identity.retention import delete_one_call

    check_text(args.call_id, "the call id")
    service = running_service(args.db)
    if service is not None:  # the service owns the database file
        with service:
            service.delete_call(args.call_id)
    else:
        con = storage.open_db(args.db)
        try:
            delete_one_call(con, args.call_id, by=LOCAL_KEY_NAME)
        finally:
            con.close()
    print(f"deleted call {args.call_id} from every table")
    return 0
