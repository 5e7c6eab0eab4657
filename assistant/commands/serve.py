"""`assistant serve`: the service (media sockets, REST API, health) in one process."""

from __future__ import annotations

import argparse

from assistant import config, storage
from assistant.errors import InputError


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "serve", help="run the assistant service (live calls, REST API for the console)"
    )
    p.add_argument("--host", help="address to bind (default: the host setting, 127.0.0.1)")
    p.add_argument("--port", type=int, help="TCP port (default: the port setting, 8700)")
    p.add_argument("--db", help="DuckDB file the service owns (default: the db setting)")
    p.add_argument("--no-warm", action="store_true", help="load models on first use instead of at start-up")
    p.add_argument(
        "--demo-accounts",
        action="store_true",
        help="make a demo account per role (localhost only; passwords in <home>/demo-accounts.txt)",
    )
    p.set_defaults(func=run)


def cap_malloc_arenas(arenas: int = 2) -> bool:
    """Let glibc's malloc keep at most `arenas` arenas (unless MALLOC_ARENA_MAX is set): True when
    the cap was set. By default glibc gives threads up to 8 per core, and the service's threads
    (model workers, CTranslate2's, the request pool) each took one and kept freed memory in it:
    at 8 calls for 180 s (`bench/live.py`) the service held 1480 MB after 3 minutes and peaked at
    1620-1860 MB, against 1385 and 1530 MB with 2 arenas, with the same latencies."""
    import ctypes
    import os

    if os.environ.get("MALLOC_ARENA_MAX"):
        return False
    try:  # the C library already loaded into this process (no `find_library`, which runs ldconfig)
        mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    except (OSError, TypeError):  # TypeError: no process handle to open (Windows)
        return False
    if mallopt is None:  # no mallopt (macOS): nothing to cap
        return False
    return bool(mallopt(-8, arenas))  # M_ARENA_MAX; 0 from a C library that does not take it


def run(args: argparse.Namespace) -> int:
    import os

    import uvicorn

    # The service brings FastAPI (half a second to import): loaded only by the command that runs it.
    # Commands are the top layer, so an import here cannot hide a cycle (tests/test_architecture.py).
    from assistant.service.app import LOCAL_HOSTS, ServiceOptions, check_bind, create_app

    # Everything the service writes (database, index, logs, articles, key files) is its user's only.
    os.umask(0o077)
    cap_malloc_arenas()  # before any model or worker thread starts
    cfg = config.get()
    host = args.host or cfg.host
    port = args.port if args.port is not None else cfg.port
    if not 0 < port < 65536:
        raise InputError(f"port must be between 1 and 65535, got {port}")
    options = ServiceOptions.from_config(db=args.db, warm=not args.no_warm, host=host)
    check_bind(host, options.api_token)
    if args.demo_accounts:
        if host not in LOCAL_HOSTS:
            raise InputError("--demo-accounts is for a service on this machine only (bind to 127.0.0.1)")
        options.demo_accounts = True
    # A database held by another process is a one-line error here, not a failed start-up trace.

    storage.open_db(options.db).close()
    # CLI commands on this machine find the service that owns the database through a state file.
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    options.advertise_url = f"http://[{local}]:{port}" if ":" in local else f"http://{local}:{port}"
    app = create_app(options=options)
    print(
        f"assistant service on http://{host}:{port} (media: ws://{host}:{port}/media, docs: /docs)",
        flush=True,
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=options.limits.max_frame_bytes * 2,
        # No per-message deflate: a media socket carries 50 small audio frames a second per
        # track, which barely compress, and inflating each one cost the event loop time that
        # every call shares (bench/live.py at 8 calls).
        ws_per_message_deflate=False,
        # The client address is the TCP peer: uvicorn would otherwise take X-Forwarded-For from any
        # local process, and a forged address per request would dodge the sign-in locks.
        proxy_headers=False,
    )
    return 0
