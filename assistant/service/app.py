"""The assistant service: one process that owns the models, the index and the DuckDB file.

`create_app(...)` builds the FastAPI app; engines are injectable so tests run it with fakes
through `fastapi.testclient.TestClient`. Routes: the media sockets (`service_media`), the REST
API the console uses (`assistant/service/client.py` is its client; the contract is in docs/service.md),
`/health`, and the OpenAPI schema at `/openapi.json`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, WebSocket

from assistant import __version__, config
from assistant.calls.processor import CallProcessor
from assistant.errors import ConfigError, InputError
from assistant.identity.accounts import ensure_demo_users, write_demo_accounts
from assistant.identity.keys import write_local_key
from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.privacy.gate import id_salt, install_log_gate, new_call_id
from assistant.service.access import AccessGuard, current, host_names, resolver
from assistant.service.client import remove_service_state, write_service_state
from assistant.service.guard import RequestGuard
from assistant.service.hub import CallHub
from assistant.service.identity_routes import add_identity_routes, retention_loop
from assistant.service.media import KeySlots, Limits, RawSerializer, TwilioSerializer, serve
from assistant.service.media.audiohook import AudioHookSerializer
from assistant.service.media.signature import NonceCache, check_audiohook
from assistant.service.quality_routes import add_quality_routes
from assistant.service.routes import add_routes
from assistant.speech.audio import AudioOptions, Upsampler, encode_mulaw, load_tracks, resample
from assistant.storage.schema import private_files

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServiceOptions:
    """How the service runs.

    Attributes:
        db: the DuckDB file (None: the `db` setting).
        api_token: a legacy shared bearer token, accepted as a key with the media, ingest and
            read scopes ('' or None: none). People sign in; machines use API keys.
        max_calls: concurrent live calls.
        workers: model workers for live calls (`service_hub.CallHub`).
        batch: finals of up to this many calls decoded together by one worker.
        batch_wait: seconds a worker holding a final waits for other calls' finals to join it.
        limits: media frame size and rate limits.
        live: endpointing and decoding of live calls.
        warm: load Whisper, the embedder and the index at start-up instead of on first use.
        max_body_bytes: largest HTTP request body (413 above).
        advertise_url: where CLI commands on this machine reach this service; when set, it is
            written to the home folder's state file while the service runs (`assistant serve`).
        host: the address the service binds (a host name requests may name).
        allowed_hosts: more host names requests may name in `Host` and `Origin`.
        local_key: write the local admin key file (`<home>/admin.key`) at start.
        demo_accounts: make a demo account per role at start (`assistant up`, localhost only).
        retention_every: seconds between retention runs (None: none; the service: daily).
    """

    db: str | None = None
    api_token: str | None = None
    max_calls: int = 8
    workers: int = 2
    batch: int = 1
    batch_wait: float = 0.0
    limits: Limits = field(default_factory=Limits)
    live: LiveOptions = field(default_factory=LiveOptions)
    warm: bool = False
    max_body_bytes: int = 1_000_000
    advertise_url: str | None = None
    host: str = "127.0.0.1"
    allowed_hosts: tuple[str, ...] = ()
    local_key: bool = False
    demo_accounts: bool = False
    retention_every: float | None = None

    @classmethod
    def from_config(cls, **overrides: Any) -> ServiceOptions:
        cfg = config.get()
        base = cls(
            db=cfg.db,
            api_token=cfg.api_token or None,
            max_calls=cfg.max_calls,
            workers=cfg.live_workers,
            batch=cfg.live_batch,
            batch_wait=cfg.live_batch_wait,
            limits=Limits(
                cfg.max_frame_bytes,
                cfg.max_frames_per_second,
                cfg.media_start_timeout,
                cfg.media_idle_timeout,
                cfg.realtime_slack,
                cfg.media_silence_timeout or None,
                cfg.media_key_share,
            ),
            live=LiveOptions.from_config(),
            max_body_bytes=cfg.max_body_bytes,
            host=cfg.host,
            allowed_hosts=tuple(h for h in cfg.allowed_hosts.split(",") if h.strip()),
            local_key=True,
            retention_every=24 * 3600.0,
        )
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond this machine without a token (ConfigError)."""
    if host not in LOCAL_HOSTS and not token:
        raise ConfigError(
            f"binding to {host} needs an API token",
            hint="set ASSISTANT_API_TOKEN (clients send 'Authorization: Bearer <token>'), or bind to 127.0.0.1",
        )


def create_app(
    *,
    processor: CallProcessor | None = None,
    options: ServiceOptions | None = None,
    catalog: ArticleCatalog | None = None,
) -> Any:
    """The service app. Pass a `CallProcessor` built with fake engines in tests."""

    install_log_gate()  # every log line of the process (uvicorn's access log too) passes the gate

    opts = options or ServiceOptions.from_config()
    hub = CallHub(
        processor or CallProcessor(),
        opts.db or config.get().db,
        options=opts.live,
        max_calls=opts.max_calls,
        catalog=catalog,
        workers=opts.workers,
        batch=opts.batch,
        batch_wait=opts.batch_wait,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:

        hub.start(warm=opts.warm)
        private_files(hub.db_path)  # also when the file was made by an older version
        if opts.local_key:
            write_local_key(hub.cursor())
        if opts.demo_accounts:
            made = ensure_demo_users(hub.cursor())
            if made:
                write_demo_accounts(made)
        stop = threading.Event()
        if opts.retention_every:
            threading.Thread(
                target=retention_loop, args=(hub, opts.retention_every, stop), name="retention", daemon=True
            ).start()
        if opts.advertise_url:
            write_service_state(opts.advertise_url, opts.api_token, str(hub.db_path))
        try:
            yield
        finally:
            stop.set()
            if opts.advertise_url:
                remove_service_state()
            hub.close()

    app = FastAPI(
        title="Contact-center assistant",
        version=__version__,
        lifespan=lifespan,
        description="Live captions and knowledge suggestions for public-sector contact centers.",
    )
    app.state.hub = hub
    app.state.options = opts

    app.add_middleware(RequestGuard, max_body_bytes=opts.max_body_bytes)
    # Added last, so it runs first: nothing reaches a route or a size check before the policy.
    app.add_middleware(
        AccessGuard,
        resolve=resolver(hub.cursor, opts.api_token),
        hosts=host_names(opts.host, opts.allowed_hosts),
        fastapi_app=app,
    )

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError) -> Any:
        from fastapi.responses import JSONResponse

        field_name = getattr(exc, "field", None)
        if field_name is not None:
            message = getattr(exc, "detail", str(exc))
            return JSONResponse({"detail": [{"field": field_name, "message": message}]}, status_code=422)
        return JSONResponse({"detail": str(exc)}, status_code=400)

    import duckdb

    @app.exception_handler(duckdb.Error)
    async def database_error(request: Request, exc: duckdb.Error) -> Any:
        from fastapi.responses import JSONResponse

        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return JSONResponse({"detail": f"the database cannot answer: {first}"}, status_code=503)

    @app.exception_handler(UnicodeEncodeError)
    async def unencodable(request: Request, exc: UnicodeEncodeError) -> Any:
        from fastapi.responses import JSONResponse

        # A backstop: RequestGuard refuses such bodies first; this catches text from elsewhere.
        return JSONResponse({"detail": "text with an invalid character (a lone surrogate)"}, status_code=422)

    # Who may open a socket is decided by AccessGuard (the policy table) before it is accepted.
    slots = KeySlots()  # live media sockets per key (`media_key_share`)

    def _key() -> str | None:
        who = current()
        return who.name if who is not None else None

    @app.websocket("/media")
    async def media(ws: WebSocket) -> None:

        await ws.accept()
        await serve(ws, hub, opts.limits, TwilioSerializer(), key=_key(), slots=slots)

    @app.websocket("/media/raw")
    async def media_raw(ws: WebSocket) -> None:

        await ws.accept()
        raw = RawSerializer(dict(ws.query_params), config.get().agent_channel == "left")
        try:
            opening = raw.start()
        except InputError as exc:
            await ws.close(1008, str(exc)[:120])
            return
        await serve(ws, hub, opts.limits, raw, key=_key(), slots=slots, opening=opening)

    nonces = NonceCache()

    @app.websocket("/audiohook")
    async def audiohook(ws: WebSocket) -> None:
        from starlette.concurrency import run_in_threadpool

        name = await run_in_threadpool(check_audiohook, hub, ws, nonces)
        if name is None:
            from fastapi.responses import JSONResponse

            body = {"detail": "unknown API key or bad signature"}
            await ws.send_denial_response(JSONResponse(body, status_code=401))
            return
        await ws.accept()
        serializer = AudioHookSerializer(
            ws.headers["audiohook-session-id"], id_salt(), config.get().audiohook_endpoint_silence or None
        )
        await serve(ws, hub, opts.limits, serializer, key=name, slots=slots)

    add_routes(app, hub, _demo_starter(hub))
    add_identity_routes(app, hub)
    add_quality_routes(app, hub)
    return app


def _demo_starter(hub: CallHub) -> Any:
    """Replays a bundled sample through the same path as the media socket (mu-law, 20 ms frames)."""
    from pathlib import Path

    def start(sample: str | None, realtime: bool = True) -> str:
        who = current()
        import time

        samples_dir = config.REPO_ROOT / "samples"
        name = sample or "call-en-payment-pii.wav"
        path = (samples_dir / name).resolve()
        if path.parent != samples_dir.resolve() or not path.is_file():
            names = ", ".join(sorted(p.name for p in samples_dir.glob("*.wav")))
            raise InputError(f"no bundled sample {name!r}; use one of: {names}")
        tracks = load_tracks(Path(path), AudioOptions(agent_channel=config.get().agent_channel))
        agent = who.name if who is not None and who.kind == "user" else None
        call = hub.open_call(demo_call_id(), source=f"demo:{path.name}", agent=agent)
        frames = {t.speaker: encode_mulaw(resample(t.samples, 16000, 8000)) for t in tracks}

        def play() -> None:
            begin = time.monotonic()
            longest = max(len(f) for f in frames.values())
            upsamplers = {speaker: Upsampler() for speaker in frames}
            for n, pos in enumerate(range(0, longest, 160)):
                if call.state != "live":
                    return
                for speaker, data in frames.items():
                    if pos < len(data):
                        hub.feed(call, speaker, upsamplers[speaker](data[pos : pos + 160]))
                if realtime:
                    time.sleep(max(0.0, begin + (n + 1) * 0.02 - time.monotonic()))
            hub.end_call(call)

        threading.Thread(target=play, name=f"demo-{call.call_id}", daemon=True).start()
        return call.call_id

    return start


def demo_call_id() -> str:
    """A fresh demo call id that the privacy gate keeps as it is (see `privacy.new_call_id`)."""

    return new_call_id("demo")
