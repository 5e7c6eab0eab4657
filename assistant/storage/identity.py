"""Users, sessions, API keys and the audit log. Use them through `assistant.storage`.

Only hashes of passwords, session tokens and keys are stored (`assistant.identity` makes them).
The audit table is append-only: the product inserts rows and deletes only rows older than the
audit retention (`delete_audit_before`); nothing updates one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from assistant.privacy.gate import gate
from assistant.storage.schema import Connection, from_db, now, rows, to_db, transaction


@dataclass(frozen=True)
class StoredUser:
    """A person who may sign in.

    Attributes:
        name: the sign-in name.
        roles: the roles held (agent, supervisor, knowledge_manager, admin).
        password_hash: argon2 hash ('' for a single-sign-on account with no local password).
        source: local, oidc or demo (a demo account made by `assistant up`, on localhost only).
        failed_attempts: wrong passwords since the last successful sign-in.
        locked_until: no sign-in before this time (None: not locked).
        created_at: when the account was made.
    """

    name: str
    roles: tuple[str, ...]
    password_hash: str
    source: str
    failed_attempts: int
    locked_until: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class StoredKey:
    """An API key (its hash only) and its scopes."""

    name: str
    key_hash: str
    scopes: tuple[str, ...]
    created_at: datetime
    created_by: str


@dataclass(frozen=True)
class AuditLine:
    """One line of the audit log: who did what to which target, when (UTC)."""

    at: datetime
    user: str
    action: str
    target: str


def _split(text: str | None) -> tuple[str, ...]:
    return tuple(sorted(p for p in (text or "").split(",") if p))


def _user(row: dict) -> StoredUser:
    return StoredUser(
        name=row["name"],
        roles=_split(row["roles"]),
        password_hash=row["password_hash"] or "",
        source=row["source"],
        failed_attempts=int(row["failed_attempts"]),
        locked_until=from_db(row["locked_until"]),
        created_at=from_db(row["created_at"]),
    )


# ---------------------------------------------------------------- users


def save_user(
    con: Connection, name: str, roles: Sequence[str], password_hash: str, source: str = "local"
) -> None:
    """Insert a user (the caller checked that the name is free)."""
    con.execute(
        "INSERT INTO users (name, roles, password_hash, source, failed_attempts, locked_until, created_at) "
        "VALUES (?, ?, ?, ?, 0, NULL, ?)",
        [name, ",".join(sorted(set(roles))), password_hash, source, to_db(now())],
    )


def get_user(con: Connection, name: str) -> StoredUser | None:
    found = rows(con, "SELECT * FROM users WHERE name = ?", [name])
    return _user(found[0]) if found else None


def list_users(con: Connection) -> list[StoredUser]:
    return [_user(r) for r in rows(con, "SELECT * FROM users ORDER BY name")]


def set_user_roles(con: Connection, name: str, roles: Sequence[str]) -> bool:
    """Replace a user's roles; False when there is no such user."""
    if get_user(con, name) is None:
        return False
    con.execute("UPDATE users SET roles = ? WHERE name = ?", [",".join(sorted(set(roles))), name])
    return True


def set_user_password(con: Connection, name: str, password_hash: str) -> None:
    con.execute("UPDATE users SET password_hash = ? WHERE name = ?", [password_hash, name])


def record_sign_in_result(
    con: Connection, name: str, failed_attempts: int, locked_until: datetime | None
) -> None:
    """Store the failure count and lock after a sign-in attempt."""
    con.execute(
        "UPDATE users SET failed_attempts = ?, locked_until = ? WHERE name = ?",
        [failed_attempts, to_db(locked_until), name],
    )


def delete_user(con: Connection, name: str) -> bool:
    """Remove a user and end their sessions; False when there is no such user."""
    with transaction(con):
        existed = con.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone() is not None
        con.execute("DELETE FROM sessions WHERE user_name = ?", [name])
        con.execute("DELETE FROM users WHERE name = ?", [name])
    return existed


# ---------------------------------------------------------------- sessions


def save_session(con: Connection, token_hash: str, user: str, expires_at: datetime) -> None:
    con.execute(
        "INSERT INTO sessions (token_hash, user_name, created_at, expires_at) VALUES (?, ?, ?, ?)",
        [token_hash, user, to_db(now()), to_db(expires_at)],
    )


def session_user(con: Connection, token_hash: str, at: datetime) -> StoredUser | None:
    """The user of an unexpired session, else None."""
    found = rows(
        con,
        "SELECT u.* FROM sessions s JOIN users u ON u.name = s.user_name "
        "WHERE s.token_hash = ? AND s.expires_at > ?",
        [token_hash, to_db(at)],
    )
    return _user(found[0]) if found else None


def delete_session(con: Connection, token_hash: str) -> bool:
    existed = con.execute("SELECT 1 FROM sessions WHERE token_hash = ?", [token_hash]).fetchone()
    con.execute("DELETE FROM sessions WHERE token_hash = ?", [token_hash])
    return existed is not None


def delete_expired_sessions(con: Connection, at: datetime) -> int:
    found = con.execute("SELECT count(*) FROM sessions WHERE expires_at <= ?", [to_db(at)]).fetchone()
    con.execute("DELETE FROM sessions WHERE expires_at <= ?", [to_db(at)])
    return int(found[0]) if found else 0


# ---------------------------------------------------------------- API keys


def _key(row: dict) -> StoredKey:
    return StoredKey(
        row["name"], row["key_hash"], _split(row["scopes"]), from_db(row["created_at"]), row["created_by"]
    )


def save_key(con: Connection, name: str, key_hash: str, scopes: Sequence[str], created_by: str) -> None:
    """Insert a key, or replace the one with this name (the local admin key is renewed this way)."""
    with transaction(con):
        con.execute("DELETE FROM api_keys WHERE name = ?", [name])
        con.execute(
            "INSERT INTO api_keys (name, key_hash, scopes, created_at, created_by) VALUES (?, ?, ?, ?, ?)",
            [name, key_hash, ",".join(sorted(set(scopes))), to_db(now()), created_by],
        )


def get_key(con: Connection, name: str) -> StoredKey | None:
    found = rows(con, "SELECT * FROM api_keys WHERE name = ?", [name])
    return _key(found[0]) if found else None


def key_by_hash(con: Connection, key_hash: str) -> StoredKey | None:
    found = rows(con, "SELECT * FROM api_keys WHERE key_hash = ?", [key_hash])
    return _key(found[0]) if found else None


def list_keys(con: Connection) -> list[StoredKey]:
    return [_key(r) for r in rows(con, "SELECT * FROM api_keys ORDER BY name")]


def delete_key(con: Connection, name: str) -> bool:
    existed = con.execute("SELECT 1 FROM api_keys WHERE name = ?", [name]).fetchone() is not None
    con.execute("DELETE FROM api_keys WHERE name = ?", [name])
    return existed


# ---------------------------------------------------------------- audit


def add_audit(con: Connection, user: str, action: str, target: str = "", at: datetime | None = None) -> None:
    """Append one audit line; the target passes the privacy gate (it may quote what someone typed)."""
    con.execute(
        "INSERT INTO audit_log (id, logged_at, user_name, action, target) VALUES (nextval('audit_seq'), ?, ?, ?, ?)",
        [to_db(at or now()), user, action, str(gate(target or ""))],
    )


def list_audit(
    con: Connection, since: datetime | None = None, user: str | None = None, limit: int = 10_000
) -> list[AuditLine]:
    """Audit lines in the order they were written (oldest first)."""
    where: list[str] = []
    params: list[object] = []
    if since is not None:
        where.append("logged_at >= ?")
        params.append(to_db(since))
    if user is not None:
        where.append("user_name = ?")
        params.append(user)
    sql = "SELECT logged_at, user_name, action, target FROM audit_log"
    sql += (" WHERE " + " AND ".join(where)) if where else ""
    sql += " ORDER BY id LIMIT ?"
    found = rows(con, sql, [*params, limit])
    return [AuditLine(from_db(r["logged_at"]), r["user_name"], r["action"], r["target"] or "") for r in found]


def delete_audit_before(con: Connection, before: datetime, dry_run: bool = False) -> int:
    """Retention of the audit log itself: the only delete the product makes on it."""
    found = con.execute("SELECT count(*) FROM audit_log WHERE logged_at < ?", [to_db(before)]).fetchone()
    if not dry_run:
        con.execute("DELETE FROM audit_log WHERE logged_at < ?", [to_db(before)])
    return int(found[0]) if found else 0
