"""The Streamlit console: pages that draw, one client factory, and who is signed in.

Pages never talk HTTP or open the database themselves: each action is one call on the object that
`get_client()` returns. That object is the real `assistant.service.client.ServiceClient`, or the in-memory
`assistant.service.fake_client.FakeClient` when the environment variable `ASSISTANT_CONSOLE_FAKE=1` is set
(demos without a service, and the browser test). AppTest tests call `set_client(fake)` instead.

Sign-in: a person signs in on the sign-in page (`sign_in`); the console then calls the service as
that person, with their session token, from a client of this browser session only. The console never
uses the machine's local admin key. `PAGE_ROLES` says which roles see which page; the service
enforces the same on every route.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from typing import Any

import streamlit as st

from assistant.errors import AssistantError, ConfigError
from assistant.service.client import ServiceClient, ServiceUnavailable
from assistant.service.fake_client import FakeClient
from console import session

__all__ = [
    "PAGE_ROLES",
    "FakeClient",
    "ServiceClient",
    "ServiceUnavailable",
    "forget_session",
    "get_client",
    "is_fake",
    "pages_for",
    "set_client",
    "redirect",
    "restore_session",
    "sign_in",
    "sign_in_sso",
    "sign_out",
    "sso_configured",
    "signed_in",
]

FAKE_ENV = "ASSISTANT_CONSOLE_FAKE"
AUTH_KEY = "_auth"
CLIENT_KEY = "_client"

# Page (file stem) -> the roles that see it.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "floor": frozenset({"supervisor"}),  # first: a supervisor opens the console on the floor
    "live_call": frozenset({"agent", "supervisor"}),
    "calls": frozenset({"agent", "supervisor"}),
    "digest": frozenset({"supervisor"}),
    "knowledge": frozenset({"knowledge_manager"}),
    "admin": frozenset({"admin"}),
}

_override: Any = None


def set_client(client: Any) -> None:
    """Use `client` instead of the cached factory (tests); `None` restores the factory."""
    global _override
    _override = client


def is_fake() -> bool:
    """Whether the console runs on the in-memory sample data (no service)."""
    return os.environ.get(FAKE_ENV, "") == "1"


_fake = is_fake


@st.cache_resource(show_spinner=False)
def _shared_fake() -> Any:
    return FakeClient()


def get_client() -> Any:
    """The service client of this browser session (the fake is shared: it is demo data)."""
    if _override is not None:
        return _override
    if _fake():
        return _shared_fake()
    client = st.session_state.get(CLIENT_KEY)
    if client is None:
        auth = st.session_state.get(AUTH_KEY)
        # '' (not None): no token at all until someone signs in, never the machine's admin key.
        client = st.session_state[CLIENT_KEY] = ServiceClient(token=auth["token"] if auth else "")
    return client


def signed_in() -> dict[str, Any] | None:
    """{"token", "user", "roles", "expires_at"} of the person signed in here, or None."""
    return st.session_state.get(AUTH_KEY)


def sign_in(name: str, password: str) -> dict[str, Any]:
    """Sign in as `name` (InputError: refused); the console calls the service as them from now on."""
    auth = get_client().sign_in(name, password)
    _signed_in_as(auth)
    return auth


def restore_session() -> dict[str, Any] | None:
    """A new browser session (reload, new tab) of a person who signed in before: the session cookie
    (console/session.py) names their session at the service, which says who it is. None when there is
    no cookie, or the service no longer knows the session (signed out, expired)."""
    if _override is not None or _fake():
        return None
    try:
        token = st.context.cookies.get(session.COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (AppTest)
        return None
    if not token:
        return None
    client = ServiceClient(token=token)
    try:
        me = client.me()
    except ServiceUnavailable:
        client.close()
        raise
    except AssistantError:  # unknown, revoked or expired: signed out
        client.close()
        return None
    if me["kind"] != "user":  # a person's session, not an API key
        client.close()
        return None
    auth = {"token": token, "user": me["name"], "roles": me["roles"], "expires_at": ""}
    st.session_state[AUTH_KEY] = auth
    st.session_state[CLIENT_KEY] = client
    return auth


def redirect(url: str) -> None:
    """Send the browser to `url` (a path on this console), as st.login sends it to a provider."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    if ctx is None:
        return
    msg = ForwardMsg()
    msg.auth_redirect.url = url
    ctx.enqueue(msg)


def keep_signed_in(auth: dict[str, Any], target: str) -> bool:
    """After a sign-in: send the browser through the route that sets the session cookie, then on to
    `target`. False when the console runs without that route (AppTest, `streamlit run streamlit_app.py`)."""
    if not session.enabled() or _override is not None or _fake():
        return False
    try:
        left = dt.datetime.fromisoformat(auth["expires_at"]) - dt.datetime.now(dt.UTC)
        max_age = max(60, int(left.total_seconds()))
    except (KeyError, TypeError, ValueError):
        max_age = 8 * 3600
    redirect(session.start_url(session.hand_off(auth["token"], max_age), target))
    return True


def forget_session() -> bool:
    """After sign-out: send the browser through the route that deletes the session cookie (the
    service has already ended the session). False when the console runs without that route."""
    if not session.enabled() or _override is not None or _fake():
        return False
    redirect(session.END)
    return True


def sso_configured() -> bool:
    """Whether single sign-on is set up for the console (an `[auth]` section in Streamlit's secrets)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: no single sign-on
        return False


def sign_in_sso() -> dict[str, Any] | None:
    """After the provider signed the person in (`st.login`), sign in to the service with the ID token
    it issued (exposed by `expose_tokens = "id"`); None when no one is signed in at the provider."""
    if not sso_configured() or not st.user.is_logged_in:
        return None
    id_token = (st.user.tokens or {}).get("id")
    if not id_token:
        raise ConfigError('single sign-on needs expose_tokens = "id" in the [auth] section of secrets.toml')
    auth = get_client().sign_in_oidc(id_token)
    _signed_in_as(auth)
    return auth


def _signed_in_as(auth: dict[str, Any]) -> None:
    st.session_state[AUTH_KEY] = auth
    if _override is None and not _fake():
        old = st.session_state.pop(CLIENT_KEY, None)
        if old is not None:
            old.close()
        st.session_state[CLIENT_KEY] = ServiceClient(token=auth["token"])


def sign_out() -> bool:
    """End this browser session's sign-in (and the service's session). True when the browser is
    sent on to the single sign-on provider to sign out there too (st.logout): the page must then
    not rerun, or the rerun can drop that redirect."""
    # Signing out here must work even when the service is down or the session already expired.
    with contextlib.suppress(Exception):
        get_client().sign_out()
    st.session_state.pop(AUTH_KEY, None)
    old = st.session_state.pop(CLIENT_KEY, None)
    if old is not None and hasattr(old, "close"):
        old.close()
    if sso_configured() and st.user.is_logged_in:
        st.logout()  # also at the console: a reload must not sign the person in again
        return True
    return False


def pages_for(roles: list[str] | tuple[str, ...]) -> list[str]:
    """The pages (file stems, in menu order) a person with `roles` sees."""
    return [name for name, allowed in PAGE_ROLES.items() if allowed & set(roles)]
