"""`assistant digest`: compute, store and show the daily pain-point digest."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant import config, storage
from assistant.digest.build import LazyEmbedder, run_digest
from assistant.digest.model import (
    DigestOptions,
    check_not_future,
    days_between,
    from_stored,
    parse_day,
    yesterday,
)
from assistant.digest.render import export
from assistant.errors import InputError
from assistant.service.client import running_service


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("digest", help="daily digest of caller problems (default: yesterday, UTC)")
    p.add_argument("--date", help="the day, YYYY-MM-DD (default: yesterday, UTC)")
    p.add_argument("--since", help="backfill: first day of a range, YYYY-MM-DD")
    p.add_argument("--until", help="backfill: last day of the range (default: yesterday)")
    p.add_argument("--db", help="DuckDB file (default: the db setting)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the digest as one JSON object")
    out.add_argument("--format", choices=("text", "markdown", "csv"), help="export format (default: text)")
    p.add_argument("--stored", action="store_true", help="show the stored digest instead of recomputing it")
    p.set_defaults(func=run)


def _days(args: argparse.Namespace) -> list:

    if args.since or args.until:
        if args.date:
            raise InputError("use --date, or --since/--until, not both")
        since = parse_day(args.since, "--since") if args.since else None
        until = parse_day(args.until, "--until") if args.until else yesterday()
        if since is None:
            raise InputError("--until needs --since")
        check_not_future(until)
        return days_between(since, until)
    day = parse_day(args.date) if args.date else yesterday()
    check_not_future(day)
    return [day]


def _open(db: str | None):

    path = Path(db or config.get().db).expanduser()
    if not path.exists():
        raise InputError(f"database {path} does not exist; ingest calls first (assistant ingest)")
    return storage.open_db(path)


def render(digest, args: argparse.Namespace) -> str:

    if args.json:
        return json.dumps(digest.to_json(), ensure_ascii=False)
    if args.format in ("markdown", "csv"):
        # print() adds the final newline back: the output equals the service's download.
        return export(digest, args.format).text.rstrip("\n")
    return digest.text


def run_through(service, days: list, args: argparse.Namespace) -> int:
    """The same as `run`, by the running service that owns the database file."""

    with service:
        for day in days:
            if args.stored:
                data = service.digest(day.isoformat())
                if data is None:
                    raise InputError(f"no digest is stored for {day}; run: assistant digest --date {day}")
            else:
                data = service.build_digest(day.isoformat())
            if args.json:
                print(json.dumps(data, ensure_ascii=False))
            elif args.format in ("markdown", "csv"):
                print(service.digest_export(day.isoformat(), args.format).rstrip("\n"))
            else:
                print(data.get("digest_text") or "")
    return 0


def run(args: argparse.Namespace) -> int:

    days = _days(args)
    service = running_service(args.db)
    if service is not None:  # the service owns the database file
        return run_through(service, days, args)
    con = _open(args.db)
    try:
        if args.stored:
            for day in days:
                stored = storage.get_digest(con, day)
                if stored is None:
                    raise InputError(f"no digest is stored for {day}; run: assistant digest --date {day}")
                print(render(from_stored(stored), args))
            return 0
        options = DigestOptions.from_config()
        embedder = LazyEmbedder()  # loads MiniLM only when some day has problems to embed
        for day in days:
            digest = run_digest(con, day, embedder, options, progress=lambda m: print(m, file=sys.stderr))
            print(render(digest, args))
    finally:
        con.close()
    return 0
