"""Who may open an AudioHook session: the API key in `X-API-KEY` and an HTTP message signature
(RFC 9421, HMAC-SHA256 with the key's client secret) over the AudioHook headers, the key,
`@request-target` and `@authority`, checked before the WebSocket upgrade.

A signature is good once: its nonce is remembered until it expires (a replayed upgrade is
refused), and it must be fresh (`created` within MAX_AGE seconds, `expires` not passed).
Verification is the maintained `http-message-signatures` library; this module decides what a
signature must cover and where the key and secret come from (`identity.keys`).
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import InputError
from assistant.identity.audit import record
from assistant.identity.keys import client_secret

if TYPE_CHECKING:
    from fastapi import WebSocket

    from assistant.service.hub import CallHub

REQUIRED = (
    "@request-target",
    "@authority",
    "audiohook-organization-id",
    "audiohook-session-id",
    "audiohook-correlation-id",
    "x-api-key",
)
MAX_AGE = 60  # seconds a signature is taken after its creation (Genesys signs at each connect)


class Refused(InputError):
    """The upgrade is refused with 401; `why` goes to the audit log (never the key itself)."""


@dataclass
class _Request:
    """What the signature library reads from a request."""

    method: str
    url: str
    headers: Mapping[str, str]


class NonceCache:
    """Nonces seen, each until its signature expires."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def first_use(self, nonce: str, until: float) -> bool:
        now = time.time()
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {n: t for n, t in self._seen.items() if t > now}
            if self._seen.get(nonce, 0.0) > now:
                return False
            self._seen[nonce] = max(until, now + MAX_AGE)
            return True


def verify(
    headers: Mapping[str, str],
    path: str,
    query: str,
    secret_for: Callable[[str], bytes | None],
    nonces: NonceCache,
) -> str:
    """The API key of a well-signed upgrade request; Refused otherwise. `headers` with lower-case
    names; `secret_for(key)`: the key's client secret, None for an unknown key."""
    from http_message_signatures import HTTPMessageVerifier, HTTPSignatureKeyResolver, algorithms
    from http_message_signatures.exceptions import HTTPMessageSignaturesException

    key = headers.get("x-api-key", "").strip()
    if not key:
        raise Refused("no X-API-KEY header")
    for name in ("audiohook-organization-id", "audiohook-session-id", "audiohook-correlation-id"):
        if not headers.get(name):
            raise Refused(f"no {name} header")
    secret = secret_for(key)
    if secret is None:
        raise Refused("unknown API key")
    if "signature" not in headers or "signature-input" not in headers:
        raise Refused("no signature (Signature and Signature-Input headers)")

    class Resolver(HTTPSignatureKeyResolver):
        def resolve_public_key(self, key_id: str) -> Any:
            return secret if key_id == key else None

        def resolve_private_key(self, key_id: str) -> Any:
            raise KeyError(key_id)

    host = headers.get("host", "")
    request = _Request("GET", f"http://{host}{path}" + (f"?{query}" if query else ""), headers)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Resolver())
    try:
        results = verifier.verify(
            request, max_age=datetime.timedelta(seconds=MAX_AGE), require_components=REQUIRED
        )
    except (HTTPMessageSignaturesException, ValueError, TypeError) as exc:
        raise Refused(f"bad signature ({str(exc)[:80]})") from None
    nonce, expires = results[0].nonce, results[0].parameters.get("expires")
    if not isinstance(nonce, str) or not nonce:
        raise Refused("the signature has no nonce")
    if not nonces.first_use(nonce, float(expires) if isinstance(expires, int) else time.time() + MAX_AGE):
        raise Refused("a replayed signature (its nonce was used before)")
    return key


def check_audiohook(hub: CallHub, ws: WebSocket, nonces: NonceCache) -> str | None:
    """The name of the key an AudioHook upgrade comes with, or None: refused, and the refusal
    is in the audit log (the reason, never the key)."""
    headers = {k.lower(): v for k, v in ws.headers.items()}
    names: dict[str, str] = {}

    def secret_for(key: str) -> bytes | None:
        found = client_secret(hub.cursor(), key)
        if found is None:
            return None
        names[key] = found[0]
        return found[1]

    try:
        key = verify(headers, ws.url.path, ws.url.query, secret_for, nonces)
    except Refused as exc:
        record(hub.cursor(), "anonymous", "audiohook.refused", str(exc))
        return None
    return names[key]
