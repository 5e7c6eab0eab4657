"""Daily digest job for schedulers (cron, Airflow, Ray): compute and store yesterday's digest.

Run: python pipelines/daily_digest.py [--date YYYY-MM-DD | --since D [--until D]] [--db PATH] [--json]
Same as `assistant digest`; exit 0 on success (also for a day with no calls), 2 on bad input.
Re-running a date replaces that date's digest; the previous 7 days are backfilled when missing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assistant.cli import private_umask
from assistant.commands import digest as command
from assistant.errors import AssistantError


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Compute and store the daily digest.")
    sub = parser.add_subparsers(dest="command")
    command.register(sub)
    args = parser.parse_args(["digest", *(sys.argv[1:] if argv is None else argv)])
    try:
        with private_umask():  # the database and its log: the job's user's only, as the CLI
            return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    raise SystemExit(main())
