"""The ingest command line, shared by `assistant ingest` and `pipelines/ingest.py`: choose the engine
(this process, or Ray actors), run, print the report.

Run: python pipelines/ingest.py DIR|FILE.jsonl [--db PATH]   (same as `assistant ingest`)
     add --engine ray [--address auto|ray://HOST:10001] [--workers N] to run on Ray (docs/scale.md)
"""

from __future__ import annotations

import argparse
import sys

from assistant.batch.ingest import IngestReport, ingest
from assistant.batch.ray_engine import RayOptions, ingest_ray
from assistant.errors import AssistantError
from assistant.privacy.gate import gate_message


def add_engine_arguments(parser: argparse.ArgumentParser) -> None:
    """--engine, --address, --workers (shared with `assistant ingest`)."""
    parser.add_argument(
        "--engine",
        choices=["local", "ray"],
        default="local",
        help="local: this process (default); ray: Ray actors, this process stores (docs/scale.md)",
    )
    parser.add_argument(
        "--address",
        help="Ray cluster: auto (started here with 'ray start') or ray://HOST:10001 "
        "(default: a private Ray on this machine)",
    )
    parser.add_argument("--workers", type=int, help="Ray actors (default: one per cluster CPU)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ingest recordings or a JSONL file of transcripts.")
    parser.add_argument("source", help="a folder of recordings, one recording, or a .jsonl file")
    parser.add_argument("--db", help="DuckDB file (default: the db setting)")
    add_engine_arguments(parser)
    args = parser.parse_args(argv)

    def progress(msg: str) -> None:
        print(gate_message(msg), file=sys.stderr, flush=True)  # messages may echo the input

    try:
        if args.engine == "ray":
            options = RayOptions(address=args.address, workers=args.workers)
            report = ingest_ray(args.source, args.db, options=options, progress=progress)
        elif args.address or args.workers is not None:
            parser.error("--address and --workers need --engine ray")
        else:
            report = ingest(args.source, args.db, progress=progress)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print_report(report)
    return report.exit_code


def print_report(report: IngestReport) -> None:
    """The failures and notes (stderr, through the privacy gate: they may echo the input), then the
    closing line (stdout)."""

    for label, pairs in (("failed", report.errors), ("note", report.notes)):
        for where, message in pairs:
            text = message if message.startswith(where) else f"{where}: {message}"
            print(gate_message(f"{label}: {text}"), file=sys.stderr)
    print(report.line())
