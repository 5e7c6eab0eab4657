"""Users, sessions, API keys and the audit log. Use them through `assistant.storage`.

Only hashes of passwords, session tokens and keys are stored (`assistant.identity` makes them).
The audit table is append-only: the product inserts rows and deletes only rows older than the
audit retention (`delete_audit_before`); nothing updates one.
"""

from __future__ import annotations

import ipaddress
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
        failed_attempts, locked_until: the account-wide lock of schemas before 7, no longer set;
            sign-in locks are per (name, address) in `sign_in_throttle` now.
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
    """One line of the audit log: who did what to which target, when (UTC); `id` orders the lines
    (a later line has a larger id) and is the cursor of the next page; `source` is the client
    address of a sign-in line ('' for others)."""

    at: datetime
    user: str
    action: str
    target: str
    id: int = 0
    source: str = ""


@dataclass(frozen=True)
class AuditFilter:
    """Which audit lines to show. Attributes: user (exact), action (exact, or a prefix ending in
    `*`: `sign_in*`), since and until (UTC, `until` excluded)."""

    user: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditPage:
    """Lines newest first, how many lines match the filter in all, and the cursor of the next
    (older) page: pass it as `before` (None: this is the last page)."""

    lines: tuple[AuditLine, ...]
    total: int
    next_before: int | None


@dataclass(frozen=True)
class Throttle:
    """Failed sign-ins for one (user name, source): attempts since the last lock or success, how
    many locks in a row (each lasts longer), and the current lock."""

    attempts: int
    locks: int
    locked_until: datetime | None


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


def add_audit(
    con: Connection,
    user: str,
    action: str,
    target: str = "",
    at: datetime | None = None,
    source: str | None = None,
) -> None:
    """Append one audit line; the target passes the privacy gate (it may quote what someone typed).
    `source`, a client address, is kept as it is when it is an IP address (the gate would take
    198.51.100.9 for an SSN), else it passes the gate too."""
    con.execute(
        "INSERT INTO audit_log (id, logged_at, user_name, action, target, source) "
        "VALUES (nextval('audit_seq'), ?, ?, ?, ?, ?)",
        [to_db(at or now()), user, action, str(gate(target or "")), _source(source)],
    )


def _source(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return str(gate(value[:100]))


def _audit_where(f: AuditFilter) -> tuple[str, list[object]]:
    where: list[str] = []
    params: list[object] = []
    if f.since is not None:
        where.append("logged_at >= ?")
        params.append(to_db(f.since))
    if f.until is not None:
        where.append("logged_at < ?")
        params.append(to_db(f.until))
    if f.user is not None:
        where.append("user_name = ?")
        params.append(f.user)
    if f.action is not None:
        if f.action.endswith("*"):
            where.append("starts_with(action, ?)")
            params.append(f.action[:-1])
        else:
            where.append("action = ?")
            params.append(f.action)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _audit_line(r: dict) -> AuditLine:
    return AuditLine(
        from_db(r["logged_at"]),
        r["user_name"],
        r["action"],
        r["target"] or "",
        int(r["id"]),
        r["source"] or "",
    )


def list_audit(
    con: Connection, since: datetime | None = None, user: str | None = None, limit: int = 10_000
) -> list[AuditLine]:
    """Audit lines in the order they were written (oldest first); the view pages with `audit_page`."""
    where, params = _audit_where(AuditFilter(user=user, since=since))
    found = rows(con, f"SELECT * FROM audit_log{where} ORDER BY id LIMIT ?", [*params, limit])
    return [_audit_line(r) for r in found]


def audit_page(con: Connection, f: AuditFilter, limit: int, before: int | None = None) -> AuditPage:
    """Up to `limit` lines matching `f`, newest first, older than the line `before` when given."""
    where, params = _audit_where(f)
    total_row = con.execute(f"SELECT count(*) FROM audit_log{where}", params).fetchone()
    if before is not None:
        where += (" AND " if where else " WHERE ") + "id < ?"
        params = [*params, before]
    found = rows(con, f"SELECT * FROM audit_log{where} ORDER BY id DESC LIMIT ?", [*params, limit + 1])
    lines = tuple(_audit_line(r) for r in found[:limit])
    more = len(found) > limit
    return AuditPage(lines, int(total_row[0]) if total_row else 0, lines[-1].id if more and lines else None)


def delete_audit_before(con: Connection, before: datetime, dry_run: bool = False) -> int:
    """Retention of the audit log itself: the only delete the product makes on it."""
    found = con.execute("SELECT count(*) FROM audit_log WHERE logged_at < ?", [to_db(before)]).fetchone()
    if not dry_run:
        con.execute("DELETE FROM audit_log WHERE logged_at < ?", [to_db(before)])
    return int(found[0]) if found else 0


# ---------------------------------------------------------------- sign-in throttle


def get_throttle(con: Connection, name_hash: str, source: str) -> Throttle | None:
    found = con.execute(
        "SELECT attempts, locks, locked_until FROM sign_in_throttle WHERE name_hash = ? AND source = ?",
        [name_hash, source],
    ).fetchone()
    return None if found is None else Throttle(int(found[0]), int(found[1]), from_db(found[2]))


def save_throttle(con: Connection, name_hash: str, source: str, throttle: Throttle, at: datetime) -> None:
    con.execute(
        "INSERT OR REPLACE INTO sign_in_throttle VALUES (?, ?, ?, ?, ?, ?)",
        [name_hash, source, throttle.attempts, throttle.locks, to_db(throttle.locked_until), to_db(at)],
    )


def clear_throttle(con: Connection, name_hash: str, source: str | None = None) -> int:
    """Forget the failed sign-ins of a name (from one source, or from all); how many rows went."""
    where, params = "name_hash = ?", [name_hash]
    if source is not None:
        where, params = where + " AND source = ?", [*params, source]
    found = con.execute(f"SELECT count(*) FROM sign_in_throttle WHERE {where}", params).fetchone()
    con.execute(f"DELETE FROM sign_in_throttle WHERE {where}", params)
    return int(found[0]) if found else 0


def locks_by_name(con: Connection, at: datetime) -> dict[str, tuple[datetime, int]]:
    """name hash -> (the latest lock end, how many sources are locked) for the locks still running."""
    found = con.execute(
        "SELECT name_hash, max(locked_until), count(*) FROM sign_in_throttle WHERE locked_until > ? "
        "GROUP BY name_hash",
        [to_db(at)],
    ).fetchall()
    return {h: (from_db(until), int(n)) for h, until, n in found}


def prune_throttle(con: Connection, before: datetime) -> None:
    """Drop the rows of (name, source) pairs not tried since `before` and not locked now."""
    con.execute(
        "DELETE FROM sign_in_throttle WHERE last_at < ? AND (locked_until IS NULL OR locked_until < ?)",
        [to_db(before), to_db(before)],
    )


def delete_user_sessions(con: Connection, name: str) -> None:
    con.execute("DELETE FROM sessions WHERE user_name = ?", [name])
