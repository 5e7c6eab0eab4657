"""`assistant config`: print every effective setting and where it came from."""

from __future__ import annotations

import argparse
import json

from assistant import config


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("config", help="show effective settings and their sources")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:

    values = config.get().values()
    if args.json:
        print(json.dumps({v.name: {"value": v.value, "source": v.source} for v in values}, indent=2))
        return 0
    width = max(len(v.name) for v in values)
    for v in values:
        print(f"{v.name:<{width}}  {v.value}  [{v.source}]")
    return 0
