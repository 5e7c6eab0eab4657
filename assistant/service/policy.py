"""Who may use which route and socket: the one table the service enforces (`access.AccessGuard`).

Each entry maps (method, path template) to the roles and key scopes that may use it; `WS` is a
WebSocket. `PUBLIC` routes need no one (the sign-in itself, a minimal health answer); `SIGNED_IN`
routes need someone, of any role. A route of the app missing from the table is refused (and a test
fails), so a new route cannot be open by accident.

Calls have one more rule, applied where a call is read or changed (`visible_to`): an agent sees
only the calls they handled (the agent named in the media stream's start); supervisors and `read`
keys see every call. Knowledge managers do not read calls.
"""

from __future__ import annotations

from collections.abc import Mapping

from assistant.identity.roles import Principal

PUBLIC: frozenset[str] = frozenset({"public"})
SIGNED_IN: frozenset[str] = frozenset({"signed-in"})

AGENT = "agent"
SUPERVISOR = "supervisor"
KM = "knowledge_manager"
ADMIN = "admin"


def _any(*names: str) -> frozenset[str]:
    return frozenset(names)


CALL_READERS = _any(AGENT, SUPERVISOR, "read")
CALL_WORKERS = _any(AGENT, SUPERVISOR)
KNOWLEDGE_READERS = _any(AGENT, SUPERVISOR, KM, "read")
ADMINS = _any(ADMIN)

POLICY: Mapping[tuple[str, str], frozenset[str]] = {
    # the service itself
    ("GET", "/health"): PUBLIC,  # anonymous callers get the status only (`routes.health`)
    ("GET", "/openapi.json"): SIGNED_IN,
    ("GET", "/docs"): SIGNED_IN,
    ("GET", "/docs/oauth2-redirect"): SIGNED_IN,
    ("GET", "/redoc"): SIGNED_IN,
    # sign-in
    ("POST", "/auth/sign-in"): PUBLIC,
    ("POST", "/auth/oidc"): PUBLIC,
    ("POST", "/auth/sign-out"): SIGNED_IN,
    ("GET", "/auth/me"): SIGNED_IN,
    # live media
    ("WS", "/media"): _any("media"),
    ("WS", "/media/raw"): _any("media"),
    # Genesys sends its key in X-API-KEY with a signature: checked by the route before the upgrade
    ("WS", "/audiohook"): PUBLIC,
    ("POST", "/demo-calls"): CALL_WORKERS,
    # calls (agents: their own only)
    ("GET", "/calls"): CALL_READERS,
    ("GET", "/floor"): CALL_READERS,  # agents: their own live calls only
    ("GET", "/calls/{call_id:path}/events"): CALL_READERS,
    ("GET", "/calls/{call_id:path}"): CALL_READERS,
    ("POST", "/calls/{call_id:path}/feedback"): CALL_WORKERS,
    ("POST", "/calls/{call_id:path}/outcome"): CALL_WORKERS,
    ("POST", "/calls/{call_id:path}/language"): CALL_WORKERS,
    ("POST", "/calls/{call_id:path}/wrapup"): CALL_WORKERS,
    ("DELETE", "/calls/{call_id:path}"): ADMINS,
    # knowledge
    ("POST", "/search"): KNOWLEDGE_READERS,
    ("GET", "/articles"): KNOWLEDGE_READERS,
    ("GET", "/articles/{article_id}/history"): _any(KM, SUPERVISOR),
    ("POST", "/articles"): _any(KM),
    ("PUT", "/articles/{article_id}"): _any(KM),
    ("POST", "/articles/{article_id}/status"): _any(KM),
    ("POST", "/index/rebuild"): _any(KM),
    ("GET", "/gaps"): _any(KM, SUPERVISOR),
    # digests
    ("GET", "/digests"): _any(SUPERVISOR, "read"),
    ("GET", "/digests/{day}"): _any(SUPERVISOR, "read"),
    ("POST", "/digests/{day}"): _any(SUPERVISOR),
    ("GET", "/digests/{day}/export"): _any(SUPERVISOR, "read"),
    # batch
    ("POST", "/ingest"): _any("ingest"),
    ("POST", "/calls/process"): _any("ingest"),
    # administration
    ("GET", "/users"): ADMINS,
    ("POST", "/users"): ADMINS,
    ("DELETE", "/users/{name}"): ADMINS,
    ("PUT", "/users/{name}/roles"): ADMINS,
    ("POST", "/users/{name}/unlock"): ADMINS,
    ("PUT", "/users/{name}/password"): ADMINS,
    ("GET", "/keys"): ADMINS,
    ("POST", "/keys"): ADMINS,
    ("DELETE", "/keys/{name}"): ADMINS,
    ("GET", "/audit"): ADMINS,
    ("POST", "/retention/apply"): ADMINS,
}


def allowed(principal: Principal | None, needed: frozenset[str]) -> bool:
    """Whether `principal` may use a route that needs `needed`."""
    if needed is PUBLIC:
        return True
    if principal is None:
        return False
    return needed is SIGNED_IN or principal.allowed(needed)


def visible_to(principal: Principal | None, agent_id: str | None) -> bool:
    """Whether `principal` may read or change a call handled by `agent_id`."""
    if principal is None:
        return False
    if principal.sees_all_calls:
        return True
    return AGENT in principal.roles and agent_id is not None and agent_id == principal.name
