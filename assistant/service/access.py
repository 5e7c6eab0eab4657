"""Every request and socket passes here first: Host and Origin checks, then who is asking, then the
policy table (`policy.POLICY`). A pure ASGI middleware, so sockets and `/docs` are covered too.

- `Host` must name one of the allowed host names (a DNS-rebinding page names its own), and an
  `Origin`, when a browser sends one, must be this service: an allowed host name on the port the
  request reached (a foreign page's request or WebSocket, or a page of another local port): else 403.
- The bearer token (`Authorization: Bearer ...`; on sockets also `?token=`) is a session token
  (`st_...`, a signed-in person), an API key (`ak_...`), or the legacy `api_token` setting (a key
  with the media, ingest and read scopes). None, or an unknown or expired one: 401.
- A principal without a role or scope the route needs: 403. A route missing from the table: 403.

The principal is put in the request's state (`request.state.principal`) and in `current()`.
"""

from __future__ import annotations

import contextvars
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

from assistant.identity.accounts import session_principal
from assistant.identity.keys import key_principal
from assistant.identity.roles import Principal
from assistant.service.policy import POLICY, PUBLIC, allowed

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
LEGACY_TOKEN_NAME = "api-token"

_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current() -> Principal | None:
    """The principal of the request being served (None outside a request, or on a public route)."""
    return _current.get()


def host_names(bound: str | None, extra: Iterable[str] = ()) -> frozenset[str]:
    """The host names requests may name: this machine's, the bound address, and `extra`."""
    names = set(LOCAL_NAMES)
    if bound and bound not in ("0.0.0.0", "::", ""):
        names.add(bound.lower())
    names.update(n.strip().lower() for n in extra if n and n.strip())
    return frozenset(names)


def _hostname(value: str) -> str:
    """`example.org:8700` or `[::1]:8700` -> the bare host name, lower case."""
    try:
        return (urlsplit("//" + value).hostname or "").lower()
    except ValueError:
        return ""


_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}


def same_origin(origin: str, host: str, hosts: frozenset[str]) -> bool:
    """Whether a browser's `Origin` is this service: an allowed host name AND the port the request
    reached (the `Host` header's; either side without one has its scheme's default). A page served
    by another program on the same machine (another port) is another site."""
    try:
        parts = urlsplit(origin)
        origin_port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        host_port = urlsplit("//" + host).port or _DEFAULT_PORTS.get(parts.scheme.lower())
    except ValueError:
        return False
    name = (parts.hostname or "").lower()
    return bool(name) and name in hosts and origin_port is not None and origin_port == host_port


def policy_key(app: Any, scope: Scope) -> tuple[str, str] | None:
    """(method or WS, path template) of the route `scope` reaches; None when no route matches."""
    from starlette.routing import Match

    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            if scope["type"] == "websocket":
                return ("WS", route.path)
            method = scope["method"]
            return ("GET" if method == "HEAD" else method, route.path)
    return None


class AccessGuard:
    """Host/Origin checks, authentication and the policy table, for HTTP and WebSockets.

    `resolve(token)` finds the principal of a bearer token (it reads the database: it runs in a
    worker thread); `hosts` are the allowed host names; `fastapi_app` is the app whose routes are
    matched (set after the app is built)."""

    def __init__(
        self,
        app: Any,
        resolve: Callable[[str], Principal | None],
        hosts: frozenset[str],
        fastapi_app: Any = None,
    ) -> None:
        self.app = app
        self.resolve = resolve
        self.hosts = hosts
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        host = _hostname(headers.get("host", ""))
        if host not in self.hosts:
            await _refuse(scope, send, 403, f"host {host or '(none)'!r} is not one this service answers to")
            return
        origin = headers.get("origin")
        if origin is not None and not same_origin(origin, headers.get("host", ""), self.hosts):
            await _refuse(scope, send, 403, "requests from another site are refused (Origin)")
            return
        key = policy_key(self.fastapi_app, scope)
        if key is None:  # no such route: the app answers 404 or 405, and reveals nothing
            await self.app(scope, receive, send)
            return
        needed = POLICY.get(key)
        if needed is None:
            await _refuse(scope, send, 403, f"{key[0]} {key[1]} is not in the access policy")
            return
        principal = None
        token = _bearer(headers.get("authorization"))
        if token is None and scope["type"] == "websocket":
            token = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token") or [None])[0]
        if token:
            from starlette.concurrency import run_in_threadpool

            principal = await run_in_threadpool(self.resolve, token)
        if principal is None and (token or needed is not PUBLIC):
            # A token that names no one is refused even on a public route: its sender should know.
            what = "an unknown or expired" if token else "no"
            await _refuse(scope, send, 401, f"sign in or send an API key ({what} bearer token)")
            return
        if not allowed(principal, needed):
            assert principal is not None
            await _refuse(scope, send, 403, f"{principal.name} may not use {key[0]} {key[1]}")
            return
        scope.setdefault("state", {})["principal"] = principal
        reset = _current.set(principal)
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(reset)


def resolver(cursor: Callable[[], Any], legacy_token: str | None) -> Callable[[str], Principal | None]:
    """The principal of a bearer token: a session, an API key or the legacy `api_token`."""

    def resolve(token: str) -> Principal | None:
        if legacy_token and hmac.compare_digest(token.encode(), legacy_token.encode()):
            return Principal(LEGACY_TOKEN_NAME, "key", scopes=frozenset({"media", "ingest", "read"}))
        con = cursor()
        return session_principal(con, token) or key_principal(con, token)

    return resolve


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _refuse(scope: Scope, send: Send, status: int, detail: str) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting refuses the handshake (HTTP 403 to the client); the reason is for logs.
        await send({"type": "websocket.close", "code": 1008, "reason": detail[:120]})
        return
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
