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
from assistant.identity.audit import record
from assistant.identity.passwords import check_password, hash_password, new_password, verify_password
from assistant.identity.roles import ROLES, Principal, check_name, check_roles
from assistant.storage import Connection, StoredUser

MAX_FAILURES = 5  # wrong passwords in a row that lock an account
SESSION_PREFIX = "st_"
DEMO_SOURCE = "demo"


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
        check_password(password)
    if storage.get_user(con, name) is not None:
        raise InputError(f"user {name!r} already exists (change roles with: assistant users set-role)")
    generated = None
    if password is None:
        generated = password = new_password()
    storage.save_user(con, name, found_roles, hash_password(password), source)
    record(con, by, "user.add", f"{name} roles={','.join(found_roles)}")
    return NewUser(name, found_roles, generated)


def remove_user(con: Connection, name: str, *, by: str) -> None:
    check_name(name)
    if not storage.delete_user(con, name):
        raise InputError(f"no user {name!r} (see: assistant users list)")
    record(con, by, "user.remove", name)


def set_roles(con: Connection, name: str, roles: Sequence[str], *, by: str) -> tuple[str, ...]:
    check_name(name)
    found = check_roles(roles)
    if not storage.set_user_roles(con, name, found):
        raise InputError(f"no user {name!r} (see: assistant users list)")
    record(con, by, "user.set_roles", f"{name} roles={','.join(found)}")
    return found


def list_users(con: Connection) -> list[StoredUser]:
    return storage.list_users(con)


def user_json(user: StoredUser, at: datetime | None = None) -> dict[str, Any]:
    """A user as `assistant users list --json` prints it (never the hash)."""
    at = at or _now()
    locked = user.locked_until is not None and user.locked_until > at
    return {
        "name": user.name,
        "roles": list(user.roles),
        "source": user.source,
        "locked": locked,
        "locked_until": user.locked_until.isoformat() if locked and user.locked_until else None,
        "created_at": user.created_at.isoformat(),
    }


def sign_in(con: Connection, name: str, password: str, *, at: datetime | None = None) -> Session:
    """Check a name and password and open a session. Five wrong passwords in a row lock the
    account for `lockout_minutes`; while locked even the right password is refused."""
    at = at or _now()
    cfg = config.get()
    user = storage.get_user(con, name) if isinstance(name, str) and name else None
    if user is None:
        verify_password(password, "")  # the same work as for a real account
        record(con, "-", "sign_in.failed", f"unknown user {name!r}"[:200])
        raise SignInRefused("wrong user name or password")
    if user.locked_until is not None and user.locked_until > at:
        record(con, user.name, "sign_in.refused_locked", user.name)
        raise SignInRefused(
            f"account {user.name!r} is locked after {MAX_FAILURES} wrong passwords until "
            f"{user.locked_until.strftime('%H:%M')} UTC; try again later or ask an admin"
        )
    if not verify_password(password, user.password_hash):
        failures = user.failed_attempts + 1
        if failures >= MAX_FAILURES:
            until = at + timedelta(minutes=float(cfg.lockout_minutes))
            storage.record_sign_in_result(con, user.name, 0, until)
            record(con, user.name, "account.locked", user.name)
        else:
            storage.record_sign_in_result(con, user.name, failures, None)
        record(con, user.name, "sign_in.failed", user.name)
        raise SignInRefused("wrong user name or password")
    storage.record_sign_in_result(con, user.name, 0, None)
    session = open_session(con, user, at=at)
    record(con, user.name, "sign_in", user.name)
    return session


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
