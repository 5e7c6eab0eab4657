"""The console's web server: Streamlit's ASGI app around streamlit_app.py, with a Host check and the
two routes that set and clear the sign-in cookie (console/session.py). `assistant up` runs
`streamlit run console_server.py`; Streamlit finds `app` below and serves it with uvicorn.

Host check: a request (page, WebSocket, route) whose `Host` names another machine is refused (400),
as a DNS-rebinding page would name its own; allowed are this machine's names, the address the console
listens on, and the `allowed_hosts` setting (the same one the service uses)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import streamlit as st
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from assistant import config  # noqa: E402 - after the repository is importable
from console import session  # noqa: E402

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def allowed_hosts() -> frozenset[str]:
    names = set(LOCAL_NAMES)
    bound = (st.get_option("server.address") or "").lower()
    if bound and bound not in ("0.0.0.0", "::"):
        names.add(bound)
    names.update(h.strip().lower() for h in config.get().allowed_hosts.split(",") if h.strip())
    return frozenset(names)


def host_name(value: str) -> str:
    """`example.org:8501` or `[::1]:8501` -> the bare host name, lower case ("" when unreadable)."""
    try:
        return (urlsplit("//" + value).hostname or "").lower()
    except ValueError:
        return ""


class HostCheck:
    """Pure ASGI middleware: requests and WebSockets must name an allowed host."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hosts: frozenset[str] | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            if self.hosts is None:
                self.hosts = allowed_hosts()
            headers = dict(scope.get("headers") or [])
            host = host_name(headers.get(b"host", b"").decode("latin-1"))
            if host not in self.hosts:
                if scope["type"] == "websocket":
                    await send({"type": "websocket.close", "code": 1008})
                    return
                response = PlainTextResponse(
                    "This console does not answer to that host name (add it to allowed_hosts).", 400
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def start(request: Request) -> Response:
    target = session.safe_next(request.query_params.get("next"))
    got = session.redeem(request.query_params.get("code", ""))
    response = RedirectResponse(target, status_code=303)
    if got is not None:
        token, max_age = got
        response.set_cookie(session.COOKIE, token, max_age=max_age, path="/", secure=True,
                            httponly=True, samesite="strict")  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


async def end(request: Request) -> Response:
    response = RedirectResponse("/?signed_out=1", status_code=303)
    response.delete_cookie(session.COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    response.headers["Cache-Control"] = "no-store"
    return response


session.enable()
app = st.App(
    ROOT / "streamlit_app.py",
    routes=[Route(session.START, start), Route(session.END, end)],
    middleware=[Middleware(HostCheck)],
)
