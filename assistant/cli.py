"""The `assistant` command: a thin layer over the library.

Each module in `assistant/commands/` defines `register(subparsers)` that adds its sub-commands, and
each sub-command sets `func(args) -> int`. Modules are found by listing the package, so adding a
command never touches this file. Command modules must import heavy libraries inside `func`.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence

import assistant.commands as commands_pkg
from assistant import __version__
from assistant.errors import AssistantError
from assistant.privacy.gate import gate

PRIVATE_UMASK = 0o077  # files 0600, folders 0700


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Offline agent assistant for public-sector contact centers.",
    )
    parser.add_argument("--version", action="version", version=f"assistant {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"assistant.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    with private_umask():
        try:
            return int(args.func(args) or 0)
        except AssistantError as exc:
            print(f"error: {gate(str(exc))}", file=sys.stderr)  # a message may echo an id or a path
            return exc.exit_code
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:
            return 0


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """What a command writes (database and its WAL, home folder, exports, logs) holds call text or
    password hashes: its user's only (files 0600, folders 0700), as `assistant serve` does. The
    caller's umask is given back after, for callers that run a command inside a longer-lived
    process (tests, a scheduler's worker)."""
    previous = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


if __name__ == "__main__":
    raise SystemExit(main())
