"""`assistant simulate-call`: stream a recording to the service like a telephony platform would,
and print the captions and suggestions that come back."""

from __future__ import annotations

import argparse

from assistant.errors import InputError
from assistant.service.sim import SimOptions, simulate_many


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "simulate-call",
        help="stream a recording to the service (Twilio media format) and print what comes back",
    )
    p.add_argument("audio", help="a recording; stereo is agent and caller channels (see agent_channel)")
    p.add_argument("--url", default=None, help="media socket (default: ws://127.0.0.1:8700/media)")
    p.add_argument(
        "--realtime",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pace frames at real time (default) or send as fast as possible",
    )
    p.add_argument(
        "--format",
        choices=("twilio", "raw", "audiohook"),
        default="twilio",
        help="media protocol (audiohook: Genesys)",
    )
    p.add_argument("--api-key", default=None, help="AudioHook: the media key (default: the local admin key)")
    p.add_argument("--client-secret", default=None, help="AudioHook: its base-64 client secret")
    p.add_argument("--calls", type=int, default=1, help="run this many calls at once (load test)")
    p.add_argument("--quiet", action="store_true", help="print only the per-call result line")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="routing sent with the call (repeatable): agent=NAME, queue=NAME, language=CODE "
        "(Twilio customParameters; the raw format's query string)",
    )
    p.set_defaults(func=run)


def parse_params(items: list[str]) -> dict[str, str]:
    """`KEY=VALUE` strings to a mapping; InputError names the first malformed one."""
    params: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise InputError(f"--param {item!r} is not KEY=VALUE (e.g. --param agent=jane.doe)")
        if not key.replace("_", "").isalnum() or not key.isascii():
            raise InputError(f"--param key {key!r} must be letters, digits or '_'")
        if key in params:
            raise InputError(f"--param {key} is given twice")
        if key in ("call_id", "channels", "speaker"):
            raise InputError(f"--param {key} is set by simulate-call itself")
        params[key] = value.strip()
    return params


def run(args: argparse.Namespace) -> int:

    if args.calls < 1 or args.calls > 64:
        raise InputError(f"--calls must be between 1 and 64, got {args.calls}")
    params = parse_params(args.param)
    if args.format != "audiohook" and (args.api_key or args.client_secret):
        raise InputError("--api-key and --client-secret are for --format audiohook")
    options = SimOptions(
        url=args.url,
        realtime=args.realtime,
        media_format=args.format,
        echo=not args.quiet,
        params=params,
        token=args.api_key,
        client_secret=args.client_secret,
    )
    results = simulate_many(args.audio, options, args.calls)
    for r in results:
        print(
            f"{r.call_id}: {r.finals} final and {r.partials} partial captions, "
            f"{len(r.suggestions)} suggestions ({', '.join(r.suggestions) or '-'}), stored: {r.stored}"
            + (f", {len(r.transcripts)} transcripts back" if args.format == "audiohook" else "")
        )
    return 0 if all(r.stored for r in results) else 1
