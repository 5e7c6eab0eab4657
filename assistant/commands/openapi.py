"""`assistant openapi`: print the service's OpenAPI schema (for client generators), without starting
the service: no model is loaded and no database is opened."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("openapi", help="print the service's OpenAPI schema (JSON) without starting it")
    p.add_argument("--indent", type=int, default=2, help="JSON indent (default 2; 0 for one line)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # FastAPI comes with the service app: loaded by the command that needs it (see commands/__init__).
    from assistant.service.app import create_app

    schema = create_app().openapi()
    json.dump(schema, sys.stdout, indent=args.indent or None)
    sys.stdout.write("\n")
    return 0
