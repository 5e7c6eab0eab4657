"""Routes for signing in and for administration: users, API keys, the audit log, retention.

Who may use each is in `policy.POLICY`; these routes only do the work and leave audit lines
(the identity functions write them).
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException, Request, Response
from pydantic import BaseModel, Field

from assistant.identity import accounts, audit, keys, oidc, retention, throttle
from assistant.service import schemas
from assistant.service.access import current
from assistant.service.hub import CallHub

log = logging.getLogger("assistant.service.app")


class SignInBody(BaseModel):
    name: str
    password: str


class OidcBody(BaseModel):
    id_token: str


class NewUserBody(BaseModel):
    name: str
    roles: list[str]
    password: str | None = None


class RolesBody(BaseModel):
    roles: list[str]


class NewKeyBody(BaseModel):
    scopes: list[str]
    name: str | None = None
    client_secret: bool = False  # AudioHook: a base-64 secret to sign connections with


class PasswordBody(BaseModel):
    password: str


class RetentionBody(BaseModel):
    dry_run: bool = False
    # Days asked for by the caller (`assistant retention apply --transcript-days`); None: the
    # service's settings.
    transcript_days: int | None = Field(default=None, ge=0)
    audit_days: int | None = Field(default=None, ge=0)


def session_json(session: accounts.Session) -> dict[str, Any]:
    return {
        "token": session.token,
        "user": session.user,
        "roles": list(session.roles),
        "expires_at": session.expires_at.isoformat(),
    }


def _who() -> str:
    principal = current()
    return principal.name if principal is not None else "-"


def add_identity_routes(app: Any, hub: CallHub) -> None:
    # -- signing in ----------------------------------------------------------------------------
    @app.post("/auth/sign-in", response_model=schemas.SessionIssued)
    def sign_in(body: SignInBody, request: Request) -> dict[str, Any]:
        """A name and password for a session token (send it as `Authorization: Bearer TOKEN`).
        Failed attempts are counted per name and client address (`identity.throttle`)."""
        source = request.client.host if request.client is not None else "unknown"
        try:
            session = accounts.sign_in(hub.cursor(), body.name, body.password, source=source)
        except accounts.SignInRefused as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
        return session_json(session)

    @app.post("/auth/oidc", response_model=schemas.SessionIssued)
    def sign_in_oidc(body: OidcBody) -> dict[str, Any]:
        """Single sign-on: the provider's ID token (checked against its keys) for a session."""
        options = oidc.OidcOptions.from_config()
        if options is None:
            raise HTTPException(404, "single sign-on is not set up (set oidc_issuer and oidc_client_id)")
        try:
            session = oidc.sign_in_with_token(hub.cursor(), body.id_token, options)
        except oidc.TokenRefused as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return session_json(session)

    @app.post("/auth/sign-out", response_model=schemas.SignedOut)
    def sign_out(request: Request) -> dict[str, Any]:
        header = request.headers.get("authorization", "")
        accounts.sign_out(hub.cursor(), header[7:].strip(), _who())
        return {"signed_out": True}

    @app.get("/auth/me", response_model=schemas.Me)
    def me() -> dict[str, Any]:
        principal = current()
        assert principal is not None  # the policy lets only someone in
        return {
            "name": principal.name,
            "kind": principal.kind,
            "roles": sorted(principal.roles),
            "scopes": sorted(principal.scopes),
        }

    # -- users ---------------------------------------------------------------------------------
    @app.get("/users", response_model=list[schemas.User])
    def users() -> list[dict[str, Any]]:
        return accounts.users_json(hub.cursor())

    @app.post("/users", status_code=201, response_model=schemas.UserAdded)
    def add_user(body: NewUserBody) -> dict[str, Any]:
        """A new local account; without a password one is generated and returned once."""
        made = accounts.add_user(hub.cursor(), body.name, body.roles, body.password, by=_who())
        return {"name": made.name, "roles": list(made.roles), "password": made.password}

    @app.delete("/users/{name}", response_model=schemas.UserRemoved)
    def remove_user(name: str) -> dict[str, Any]:
        accounts.remove_user(hub.cursor(), name, by=_who())
        return {"name": name, "removed": True}

    @app.put("/users/{name}/roles", response_model=schemas.UserRoles)
    def set_roles(name: str, body: RolesBody) -> dict[str, Any]:
        return {"name": name, "roles": list(accounts.set_roles(hub.cursor(), name, body.roles, by=_who()))}

    @app.post("/users/{name}/unlock", response_model=schemas.UserUnlocked)
    def unlock_user(name: str) -> dict[str, Any]:
        """Lift every sign-in lock of the account (all client addresses)."""
        return {"name": name, "sources": accounts.unlock_user(hub.cursor(), name, by=_who())}

    @app.put("/users/{name}/password", response_model=schemas.PasswordSet)
    def set_password(name: str, body: PasswordBody) -> dict[str, Any]:
        """A new password for a local account; its sessions end and its locks are lifted."""
        accounts.set_password(hub.cursor(), name, body.password, by=_who())
        return {"name": name, "password_set": True}

    # -- keys ----------------------------------------------------------------------------------
    @app.get("/keys", response_model=list[schemas.ApiKey])
    def list_keys() -> list[dict[str, Any]]:
        return [keys.key_json(k) for k in keys.list_keys(hub.cursor())]

    @app.post("/keys", status_code=201, response_model=schemas.KeyCreated)
    def create_key(body: NewKeyBody) -> dict[str, Any]:
        """A new API key; the key is in this answer only."""
        made = keys.create_key(
            hub.cursor(), body.scopes, body.name, by=_who(), client_secret=body.client_secret
        )
        return {
            "name": made.name,
            "key": made.key,
            "scopes": list(made.scopes),
            "client_secret": made.client_secret,
        }

    @app.delete("/keys/{name}", response_model=schemas.KeyRevoked)
    def revoke_key(name: str) -> dict[str, Any]:
        keys.revoke_key(hub.cursor(), name, by=_who())
        return {"name": name, "revoked": True}

    # -- audit and retention -------------------------------------------------------------------
    @app.get("/audit", response_model=list[schemas.AuditLine])
    def audit_lines(
        response: Response,
        limit: int = 100,
        before: int | None = None,
        user: str | None = None,
        action: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[dict]:
        """Audit lines newest first, `limit` at a time; `X-Total-Count` says how many match in all,
        and `X-Next-Cursor`, when older lines exist, is the `before` of the next page."""
        con = hub.cursor()
        throttle.flush_audit(con, datetime.now(UTC))
        found = audit.page(con, audit.parse_filter(user, action, since, until), limit, before)
        response.headers["X-Total-Count"] = str(found.total)
        if found.next_before is not None:
            response.headers["X-Next-Cursor"] = str(found.next_before)
        return [audit.line_json(line) for line in found.lines]

    @app.post("/retention/apply", response_model=schemas.RetentionReport)
    def apply_retention(body: RetentionBody) -> dict[str, Any]:
        return retention.apply_retention(
            hub.cursor(),
            by=_who(),
            dry_run=body.dry_run,
            transcript_days=body.transcript_days,
            audit_days=body.audit_days,
        ).to_json()


def retention_loop(hub: CallHub, every: float, stop: threading.Event) -> None:
    """Apply retention now and then every `every` seconds until `stop` is set (the service's daily run)."""
    while True:
        try:
            retention.apply_retention(hub.cursor(), by="service")
        except Exception:  # noqa: BLE001 - a failed run is logged and tried again next time
            log.exception("retention run failed")
        if stop.wait(every):
            return
