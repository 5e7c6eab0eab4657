"""Local accounts: add, list, remove, set roles; sign-in with lock-out; sessions that expire.

Every change and every sign-in (and failed one) leaves an audit line. Session tokens are random;
only their SHA-256 is stored, so a copy of the database does not hold a usable session.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from assistant import config, storage
from assistant.errors import AssistantError, InputError
from assistant.identity import throttle
from assistant.identity.audit import alert_self_grant, record
from assistant.identity.passwords import check_password, hash_password, new_password, verify_password
from assistant.identity.roles import ROLES, Principal, check_name, check_roles
from assistant.storage import Connection, StoredUser

MAX_FAILURES = throttle.MAX_FAILURES
SESSION_PREFIX = "st_"
DEMO_SOURCE = "demo"
OIDC_SOURCE = "oidc"  # an account single sign-on made (`oidc` uses the same name)


class SignInRefused(AssistantError):
    """Wrong name or password, or a locked account (the message says which only for a lock)."""


@dataclass(frozen=True)
class Session:
    """A signed-in person: the token to send (`Authorization: Bearer TOKEN`), shown once."""

    token: str
    user: str
    roles: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class NewUser:
    """A user just added; `password` is set when it was generated (print it once)."""

    name: str
    roles: tuple[str, ...]
    password: str | None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def add_user(
    con: Connection,
    name: str,
    roles: Sequence[str],
    password: str | None = None,
    *,
    by: str,
    source: str = "local",
) -> NewUser:
    """Add a local account. Without `password`, one is generated and returned (shown once)."""
    check_name(name)
    found_roles = check_roles(roles)
    if password is not None:
        check_password(password, name)
    if storage.get_user(con, name) is not None:
        raise InputError(f"user {name!r} already exists (change roles with: assistant users set-role)")
    generated = None
    if password is None:
        generated = password = new_password()
    storage.save_user(con, name, found_roles, hash_password(password), source)
    record(con, by, "user.add", f"{name} roles={','.join(found_roles)}")
    alert_self_grant(con, by, name, (), found_roles)
    return NewUser(name, found_roles, generated)


def remove_user(con: Connection, name: str, *, by: str) -> None:
    check_name(name)
    if not storage.delete_user(con, name):
        raise InputError(f"no user {name!r} (see: assistant users list)")
    record(con, by, "user.remove", name)


def set_roles(con: Connection, name: str, roles: Sequence[str], *, by: str) -> tuple[str, ...]:
    check_name(name)
    found = check_roles(roles)
    before = _need_user(con, name).roles
    storage.set_user_roles(con, name, found)
    record(con, by, "user.set_roles", f"{name} roles={','.join(found)}")
    alert_self_grant(con, by, name, before, found)
    return found


def list_users(con: Connection) -> list[StoredUser]:
    return storage.list_users(con)


def user_json(
    user: StoredUser, at: datetime | None = None, locks: dict[str, tuple[datetime, int]] | None = None
) -> dict[str, Any]:
    """A user as `assistant users list --json` prints it (never the hash). `locked`: some source is
    locked out of this name now (`locks` from `throttle.locks`); `locked_until`: the latest end."""
    lock = (locks or {}).get(throttle.name_hash(user.name))
    return {
        "name": user.name,
        "roles": list(user.roles),
        "source": user.source,
        "locked": lock is not None,
        "locked_until": lock[0].isoformat() if lock is not None else None,
        "created_at": user.created_at.isoformat(),
    }


def users_json(con: Connection, at: datetime | None = None) -> list[dict[str, Any]]:
    """Every account as `user_json` gives it."""
    locks = throttle.locks(con, at or _now())
    return [user_json(u, at, locks) for u in storage.list_users(con)]


def locked_message(until: datetime) -> str:
    """The one answer for a locked (name, source), whether the name exists or not."""
    return (
        f"too many failed sign-ins: this user name is locked for your address until {until:%H:%M} UTC; "
        "try again then, or ask an admin to unlock it"
    )


def sign_in(
    con: Connection, name: str, password: str, *, source: str = "local", at: datetime | None = None
) -> Session:
    """Check a name and password and open a session. Five wrong passwords for a name from one
    `source` (the client's address) lock that pair, for `lockout_minutes` and then twice as long
    each time (`throttle`); a locked pair is refused without checking even the right password.
    Unknown names get the same answers, after the same work."""
    at = at or _now()
    name = name if isinstance(name, str) else ""
    user = storage.get_user(con, name) if name else None
    who = user.name if user is not None else "-"
    what = name if user is not None else f"unknown user {name!r}"  # the address is the line's source
    attempt = throttle.reserve(con, name, source, at)
    if attempt.refused_until is not None:
        throttle.audit_failure(con, source, who, "sign_in.refused_locked", what[:200], at)
        raise SignInRefused(locked_message(attempt.refused_until))
    if attempt.locked_now is not None:
        until = f"{what} for this address until {attempt.locked_now:%Y-%m-%d %H:%M} UTC"
        throttle.audit_failure(con, source, who, "account.locked", until[:200], at)
    # An unknown name costs the same hash check as a known one ('' is checked against a dummy hash).
    if not verify_password(password, user.password_hash if user is not None else "") or user is None:
        throttle.audit_failure(con, source, who, "sign_in.failed", what[:200], at)
        raise SignInRefused("wrong user name or password")
    throttle.succeeded(con, user.name, source)
    session = open_session(con, user, at=at)
    record(con, user.name, "sign_in", user.name)
    return session


def unlock_user(con: Connection, name: str, *, by: str) -> int:
    """Lift every sign-in lock of `name`; how many sources it had failures from."""
    _need_user(con, name)
    cleared = throttle.unlock(con, name)
    record(con, by, "user.unlock", f"{name} sources={cleared}")
    return cleared


def set_password(con: Connection, name: str, password: str, *, by: str) -> None:
    """Give a local account a new password (checked as `add_user`'s); its sessions end and its
    sign-in locks are lifted."""
    user = _need_user(con, name)
    if user.source == OIDC_SOURCE:
        raise InputError(f"{name!r} signs in with single sign-on; its password is set at the provider")
    check_password(password, name)
    storage.set_user_password(con, name, hash_password(password))
    storage.delete_user_sessions(con, name)
    throttle.unlock(con, name)
    record(con, by, "user.set_password", name)


def _need_user(con: Connection, name: str) -> StoredUser:
    check_name(name)
    user = storage.get_user(con, name)
    if user is None:
        raise InputError(f"no user {name!r} (see: assistant users list)")
    return user


def open_session(con: Connection, user: StoredUser, *, at: datetime | None = None) -> Session:
    """A new session for `user` (after a password or single sign-on) lasting `session_hours`."""
    at = at or _now()
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    expires = at + timedelta(hours=float(config.get().session_hours))
    storage.save_session(con, token_hash(token), user.name, expires)
    return Session(token, user.name, user.roles, expires)


def sign_out(con: Connection, token: str, user: str) -> None:
    if storage.delete_session(con, token_hash(token)):
        record(con, user, "sign_out", user)


def session_principal(con: Connection, token: str, *, at: datetime | None = None) -> Principal | None:
    """The person behind a session token, or None (unknown, expired, or the user removed)."""
    if not token.startswith(SESSION_PREFIX):
        return None
    user = storage.session_user(con, token_hash(token), at or _now())
    if user is None:
        return None
    return Principal(user.name, "user", frozenset(user.roles))


def ensure_demo_users(con: Connection) -> dict[str, str]:
    """A demo account per role (`demo-agent`, `demo-supervisor`, ...), made once with a generated
    password; returns the passwords of the accounts made now (an empty dict when all existed)."""
    made: dict[str, str] = {}
    for role in ROLES:
        name = f"demo-{role.replace('_', '-')}"
        if storage.get_user(con, name) is None:
            made[name] = add_user(con, name, [role], by="assistant-up", source=DEMO_SOURCE).password or ""
    return made


DEMO_ACCOUNTS_FILE = "demo-accounts.txt"


def write_demo_accounts(made: dict[str, str]) -> Path:
    """Keep the demo accounts' generated passwords in `<home>/demo-accounts.txt` (mode 0600), where
    `assistant up` reads them to print; they are demo accounts on this machine only."""
    path = Path(config.get().home) / DEMO_ACCOUNTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write("".join(f"{name} {password}\n" for name, password in sorted(made.items())))
    os.chmod(path, 0o600)
    return path


def read_demo_accounts() -> list[tuple[str, str]]:
    """(name, password) of the demo accounts `write_demo_accounts` kept; [] when there are none."""
    path = Path(config.get().home) / DEMO_ACCOUNTS_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return []
    return [(a, b) for a, _, b in (line.partition(" ") for line in text.splitlines()) if b]
