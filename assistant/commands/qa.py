"""Quality review commands: `qa score`, `qa rescore`, `calls wrapup` (issue 35)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, timedelta

from assistant import storage
from assistant.errors import InputError, check_text
from assistant.identity.keys import LOCAL_KEY_NAME
from assistant.quality import review, wrapup
from assistant.quality.scorecards import load_scorecard


def register(subparsers: argparse._SubParsersAction) -> None:
    q = subparsers.add_parser("qa", help="score calls against a scorecard (quality review)")
    sub = q.add_subparsers(dest="qa_command", metavar="ACTION", required=True)
    s = sub.add_parser("score", help="answer a scorecard's questions for one call or one day's calls")
    s.add_argument("--scorecard", required=True, help="a scorecard YAML file")
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--call", help="one stored call id")
    which.add_argument("--date", help="every call started on this UTC day (YYYY-MM-DD)")
    s.add_argument("--db", help="DuckDB file (default: the db setting)")
    s.add_argument("--json", action="store_true", help="print a JSON list")
    s.set_defaults(func=run_score)
    r = sub.add_parser("rescore", help="re-score stored calls whose scorecard (in scorecards_dir) changed")
    r.add_argument("--db", help="DuckDB file (default: the db setting)")
    r.set_defaults(func=run_rescore)


def register_calls(sub: argparse._SubParsersAction) -> None:
    """`assistant calls wrapup ID CODE` (added to the `calls` command)."""
    w = sub.add_parser("wrapup", help="confirm a call's wrap-up code (it teaches later suggestions)")
    w.add_argument("call_id")
    w.add_argument("code")
    w.add_argument("--db")
    w.set_defaults(func=run_wrapup)


def _day(text: str) -> tuple[datetime, datetime]:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise InputError(f"--date must be YYYY-MM-DD, got {text!r}") from None
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def run_score(args: argparse.Namespace) -> int:
    card = load_scorecard(args.scorecard)  # a bad file fails before the database is opened
    if args.call is not None:
        check_text(args.call, "the call id")
    span = _day(args.date) if args.date is not None else None
    con = storage.open_db(args.db)
    try:
        if span is not None:
            ids = review.calls_between(con, *span)
        else:
            if not storage.call_exists(con, args.call, complete_only=False):
                raise InputError(f"no stored call with id {args.call!r} (see 'assistant calls list')")
            ids = [storage.get_call(con, args.call).call_id]  # type: ignore[union-attr]
        scores = review.score_calls(con, card, ids)
    finally:
        con.close()
    if args.json:
        print(json.dumps([s.to_json() for s in scores], ensure_ascii=False))
        return 0
    for s in scores:
        answered = " ".join(f"{a.question}={a.answer}" for a in s.answers)
        print(f"{s.call_id:<28} {s.score:g}/{s.max_score:g}  {answered}")
    if not scores:
        print("no calls")
    return 0


def run_rescore(args: argparse.Namespace) -> int:
    con = storage.open_db(args.db)
    try:
        done = review.rescore_changed(con)
    finally:
        con.close()
    for card_id, n in done.items():
        print(f"{card_id}: {n} call(s) re-scored")
    if not done:
        print("no scorecards in scorecards_dir")
    return 0


def run_wrapup(args: argparse.Namespace) -> int:
    check_text(args.call_id, "the call id")
    con = storage.open_db(args.db)
    try:
        call = storage.get_call(con, args.call_id)
        if call is None:
            raise InputError(f"no stored call with id {args.call_id!r} (see 'assistant calls list')")
        wrapup.confirm(con, call.call_id, args.code.strip(), LOCAL_KEY_NAME)
    finally:
        con.close()
    print(f"call {call.call_id}: wrap-up {args.code.strip()}")
    return 0
