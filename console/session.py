"""Staying signed in across reloads and tabs: a cookie that names the person's session at the service.

The service keeps the session (its token is a server-side session: revoked on sign-out, expiring on
its own). The browser keeps only a reference to it, in a cookie the page's scripts cannot read
(`HttpOnly`), that is sent only over HTTPS or to this machine (`Secure`) and never with a request another
site starts (`SameSite=Strict`). Streamlit cannot set a cookie from a script run (it talks over a
WebSocket), so the console's server (`console_server.py`, Streamlit's ASGI app) has two small routes:

- `GET /console-session/start?code=C&next=PATH` trades a one-time code (made here, when the person signed
  in on the sign-in page; it lives 60 s and works once) for the cookie, then sends the browser on to
  PATH (the page and `?call=ID` the person first asked for);
- `GET /console-session/end` deletes the cookie (after sign-out) and goes back to the start.

A new browser session (a reload, a new tab) reads the cookie with `st.context.cookies` and asks the
service who it belongs to (`GET /auth/me`): a revoked or expired session signs no one in.
"""

from __future__ import annotations

import secrets
import threading
import time
from urllib.parse import quote, urlsplit

COOKIE = "assistant_console_session"
START = "/console-session/start"
END = "/console-session/end"
CODE_LIFE = 60.0  # seconds a hand-off code works

_codes: dict[str, tuple[float, str, int]] = {}  # code -> (made at, token, cookie max-age)
_lock = threading.Lock()
_served = False  # True when the console runs under console_server.py (the routes exist)


def enable() -> None:
    """Called by console_server.py: the routes above exist, so sign-in may hand the session over."""
    global _served
    _served = True


def enabled() -> bool:
    return _served


def hand_off(token: str, max_age: int) -> str:
    """A one-time code for `token` (kept in this process only, never in a URL for long)."""
    code = secrets.token_urlsafe(24)
    now = time.monotonic()
    with _lock:
        for old in [c for c, (at, _, _) in _codes.items() if now - at > CODE_LIFE]:
            del _codes[old]
        _codes[code] = (now, token, max_age)
    return code


def redeem(code: str) -> tuple[str, int] | None:
    """The token and cookie life for `code`, once; None when unknown, used or too old."""
    with _lock:
        got = _codes.pop(code, None)
    if got is None or time.monotonic() - got[0] > CODE_LIFE:
        return None
    return got[1], got[2]


def safe_next(target: str | None) -> str:
    """`target` when it is a path on this console (no other site, no scheme), else "/"."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


def start_url(code: str, target: str) -> str:
    return f"{START}?code={quote(code)}&next={quote(safe_next(target), safe='')}"
