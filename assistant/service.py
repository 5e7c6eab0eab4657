"""The assistant service: one process that owns the models, the index and the DuckDB file.

`create_app(...)` builds the FastAPI app; engines are injectable so tests run it with fakes
through `fastapi.testclient.TestClient`. Routes: the media sockets (`service_media`), the REST
API the console uses (`assistant/client.py` is its client; the contract is in docs/service.md),
`/health`, and the OpenAPI schema at `/openapi.json`.
"""

from __future__ import annotations

import contextlib
import hmac
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket
from starlette.requests import HTTPConnection

from assistant import config
from assistant.calls import CallProcessor
from assistant.errors import ConfigError, InputError
from assistant.live import ArticleCatalog, LiveOptions
from assistant.service_hub import CallHub
from assistant.service_media import Limits

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass
class ServiceOptions:
    """How the service runs.

    Attributes:
        db: the DuckDB file (None: the `db` setting).
        api_token: bearer token required on every route and socket ('' or None: none).
        max_calls: concurrent live calls.
        workers: model workers for live calls (`service_hub.CallHub`).
        limits: media frame size and rate limits.
        live: endpointing and decoding of live calls.
        warm: load Whisper, the embedder and the index at start-up instead of on first use.
        max_body_bytes: largest HTTP request body (413 above).
        advertise_url: where CLI commands on this machine reach this service; when set, it is
            written to the home folder's state file while the service runs (`assistant serve`).
    """

    db: str | None = None
    api_token: str | None = None
    max_calls: int = 8
    workers: int = 2
    limits: Limits = field(default_factory=Limits)
    live: LiveOptions = field(default_factory=LiveOptions)
    warm: bool = False
    max_body_bytes: int = 1_000_000
    advertise_url: str | None = None

    @classmethod
    def from_config(cls, **overrides: Any) -> ServiceOptions:
        cfg = config.get()
        base = cls(
            db=cfg.db,
            api_token=cfg.api_token or None,
            max_calls=cfg.max_calls,
            workers=cfg.live_workers,
            limits=Limits(
                cfg.max_frame_bytes,
                cfg.max_frames_per_second,
                cfg.media_start_timeout,
                cfg.media_idle_timeout,
                cfg.realtime_slack,
            ),
            live=LiveOptions.from_config(),
            max_body_bytes=cfg.max_body_bytes,
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
    from assistant.privacy import install_log_gate

    install_log_gate()  # every log line of the process (uvicorn's access log too) passes the gate
    from assistant import __version__

    opts = options or ServiceOptions.from_config()
    hub = CallHub(
        processor or CallProcessor(),
        opts.db or config.get().db,
        options=opts.live,
        max_calls=opts.max_calls,
        catalog=catalog,
        workers=opts.workers,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from assistant.client import remove_service_state, write_service_state

        hub.start(warm=opts.warm)
        if opts.advertise_url:
            write_service_state(opts.advertise_url, opts.api_token, str(hub.db_path))
        try:
            yield
        finally:
            if opts.advertise_url:
                remove_service_state()
            hub.close()

    def authorised(request: HTTPConnection) -> None:
        if request.scope["type"] != "http":
            return  # sockets check the token themselves, to close with a reason
        if opts.api_token and not _token_ok(request.headers.get("authorization"), None, opts.api_token):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    app = FastAPI(
        title="Contact-center assistant",
        version=__version__,
        lifespan=lifespan,
        dependencies=[Depends(authorised)],
        description="Live captions and knowledge suggestions for public-sector contact centers.",
    )
    app.state.hub = hub
    app.state.options = opts
    from assistant.service_guard import RequestGuard

    app.add_middleware(RequestGuard, max_body_bytes=opts.max_body_bytes)

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

    async def media_gate(ws: WebSocket) -> bool:
        auth = ws.headers.get("authorization")
        if opts.api_token and not _token_ok(auth, ws.query_params.get("token"), opts.api_token):
            await ws.close(1008, "missing or wrong bearer token")
            return False
        await ws.accept()
        return True

    @app.websocket("/media")
    async def media(ws: WebSocket) -> None:
        from assistant.service_media import twilio_stream

        if await media_gate(ws):
            await twilio_stream(ws, hub, opts.limits)

    @app.websocket("/media/raw")
    async def media_raw(ws: WebSocket) -> None:
        from assistant.service_media import raw_stream

        if await media_gate(ws):
            params = dict(ws.query_params)
            await raw_stream(ws, hub, opts.limits, params, config.get().agent_channel == "left")

    from assistant.service_routes import add_routes

    add_routes(app, hub, _demo_starter(hub))
    return app


def _token_ok(header: str | None, query: str | None, token: str) -> bool:
    given = query or ""
    if header and header.lower().startswith("bearer "):
        given = header[7:].strip()
    return bool(given) and hmac.compare_digest(given.encode(), token.encode())


def _demo_starter(hub: CallHub) -> Any:
    """Replays a bundled sample through the same path as the media socket (mu-law, 20 ms frames)."""
    from pathlib import Path

    def start(sample: str | None, realtime: bool = True) -> str:
        import time

        from assistant.audio import AudioOptions, encode_mulaw, g711_to_whisper, load_tracks, resample

        samples_dir = config.REPO_ROOT / "samples"
        name = sample or "call-en-payment-pii.wav"
        path = (samples_dir / name).resolve()
        if path.parent != samples_dir.resolve() or not path.is_file():
            names = ", ".join(sorted(p.name for p in samples_dir.glob("*.wav")))
            raise InputError(f"no bundled sample {name!r}; use one of: {names}")
        tracks = load_tracks(Path(path), AudioOptions(agent_channel=config.get().agent_channel))
        call = hub.open_call(demo_call_id(), source=f"demo:{path.name}")
        frames = {t.speaker: encode_mulaw(resample(t.samples, 16000, 8000)) for t in tracks}

        def play() -> None:
            begin = time.monotonic()
            longest = max(len(f) for f in frames.values())
            for n, pos in enumerate(range(0, longest, 160)):
                if call.state != "live":
                    return
                for speaker, data in frames.items():
                    if pos < len(data):
                        hub.feed(call, speaker, g711_to_whisper(data[pos : pos + 160]))
                if realtime:
                    time.sleep(max(0.0, begin + (n + 1) * 0.02 - time.monotonic()))
            hub.end_call(call)

        threading.Thread(target=play, name=f"demo-{call.call_id}", daemon=True).start()
        return call.call_id

    return start


def demo_call_id() -> str:
    """A fresh demo call id that the privacy gate keeps as it is (see `privacy.new_call_id`)."""
    from assistant.privacy import new_call_id

    return new_call_id("demo")
