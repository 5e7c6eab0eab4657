"""Failed sign-ins: a lock per (user name, source) with back-off, and a budget of audit lines per source.

Five wrong passwords for one name from one source (the client's address) lock that pair for
`lockout_minutes`; each further lock of the pair lasts twice as long (at most a day), until a
success or `assistant users unlock NAME`. Sign-in from another source is not affected, so an
anonymous stranger cannot lock the admin out for ever. Unknown names are counted the same way,
so the answers do not tell which names exist.

An attempt is counted before its password is checked, under one lock for the whole process (the
service is the only writer of the database): a burst of concurrent guesses gets no more than five
checks, and no two writes of the same row race (DuckDB would refuse one with a conflict).

Names are kept as SHA-256 hashes: what someone typed as a user name may be anything (a card number).

Audit budget: a source's first `AUDIT_BURST` failure lines in `AUDIT_WINDOW` are written one by one
(refusals of a locked pair have a budget of their own); after that one `sign_in.throttled` line says
so, and the rest are counted and written as one `sign_in.failed.summary` line once the window has
passed, so a flood cannot bury the log. The lines carry the address in their `source` column.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from assistant import config, storage
from assistant.identity.audit import record
from assistant.storage import Connection, Throttle

MAX_FAILURES = 5  # attempts from one source that lock a name there
MAX_LOCK = timedelta(days=1)
FORGET_AFTER = timedelta(days=7)  # a pair not tried for this long starts again from no locks

AUDIT_BURST = 20
AUDIT_WINDOW = timedelta(minutes=10)
MAX_SOURCES = 10_000  # windows kept in memory; the oldest are written out first

_guard = threading.Lock()


def name_hash(name: str) -> str:
    return hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()


def lock_length(locks: int) -> timedelta:
    """How long the pair's lock number `locks + 1` lasts: `lockout_minutes`, doubling, at most a day."""
    first = timedelta(minutes=float(config.get().lockout_minutes))
    return min(first * (2 ** min(locks, 16)), MAX_LOCK)


@dataclass(frozen=True)
class Attempt:
    """The outcome of counting an attempt. Attributes: refused_until (locked: do not check the
    password), locked_now (this attempt was the last allowed; the pair is locked until then)."""

    refused_until: datetime | None = None
    locked_now: datetime | None = None


def reserve(con: Connection, name: str, source: str, at: datetime) -> Attempt:
    """Count an attempt of `name` from `source` before its password is checked."""
    key = name_hash(name)
    with _guard:
        storage.prune_throttle(con, at - FORGET_AFTER)
        found = storage.get_throttle(con, key, source) or Throttle(0, 0, None)
        if found.locked_until is not None and found.locked_until > at:
            return Attempt(refused_until=found.locked_until)
        attempts = (0 if found.locked_until is not None else found.attempts) + 1
        locked_now = None
        if attempts >= MAX_FAILURES:
            locked_now = at + lock_length(found.locks)
            storage.save_throttle(con, key, source, Throttle(attempts, found.locks + 1, locked_now), at)
        else:
            storage.save_throttle(con, key, source, Throttle(attempts, found.locks, None), at)
        return Attempt(locked_now=locked_now)


def succeeded(con: Connection, name: str, source: str) -> None:
    """A right password: the pair starts again from nothing."""
    with _guard:
        storage.clear_throttle(con, name_hash(name), source)


def unlock(con: Connection, name: str) -> int:
    """Lift every lock of `name` (all sources); how many sources it had failures from."""
    with _guard:
        return storage.clear_throttle(con, name_hash(name))


def locks(con: Connection, at: datetime) -> dict[str, tuple[datetime, int]]:
    """name hash -> (when the latest lock ends, how many sources are locked), for running locks."""
    return storage.locks_by_name(con, at)


# ---------------------------------------------------------------- the audit budget


@dataclass
class _Window:
    start: datetime
    written: int = 0
    held: int = 0


# One window per (source, kind): refusals of a locked pair ("refused") are budgeted apart from the
# checked failures and locks ("failed"), so a burst of refusals cannot hide the passwords checked.
_windows: OrderedDict[tuple[str, str], _Window] = OrderedDict()
_windows_guard = threading.Lock()


def _summary(con: Connection, key: tuple[str, str], window: _Window) -> None:
    end = window.start + AUDIT_WINDOW
    what = "refusals of a locked name" if key[1] == "refused" else "failed sign-ins"
    record(
        con,
        "-",
        "sign_in.failed.summary",
        f"{window.held} more {what} between {window.start:%Y-%m-%d %H:%M} and {end:%H:%M} UTC "
        "(counted, not listed one by one)",
        source=key[0],
    )


def audit_failure(con: Connection, source: str, user: str, action: str, target: str, at: datetime) -> None:
    """Write a failed sign-in's audit line within the source's budget (see the module's docstring)."""
    key = (source, "refused" if action == "sign_in.refused_locked" else "failed")
    with _windows_guard:
        window = _windows.get(key)
        if window is not None and at - window.start >= AUDIT_WINDOW:
            if window.held:
                _summary(con, key, window)
            window = None
        if window is None:
            window = _windows[key] = _Window(at)
            while len(_windows) > MAX_SOURCES:
                old_key, old = _windows.popitem(last=False)
                if old.held:
                    _summary(con, old_key, old)
        _windows.move_to_end(key)
        if window.written < AUDIT_BURST:
            window.written += 1
            record(con, user, action, target, source=source)
            return
        if window.held == 0:
            record(
                con,
                "-",
                "sign_in.throttled",
                f"more than {AUDIT_BURST} {action} lines from this address since {window.start:%H:%M} UTC; "
                f"until {window.start + AUDIT_WINDOW:%H:%M} UTC the rest are counted, not listed",
                source=source,
            )
        window.held += 1


def flush_audit(con: Connection, at: datetime) -> None:
    """Write the summary line of every window that has passed (the audit view calls this first)."""
    with _windows_guard:
        for key, window in list(_windows.items()):
            if at - window.start >= AUDIT_WINDOW:
                if window.held:
                    _summary(con, key, window)
                del _windows[key]


def reset_audit_budget() -> None:
    """Forget every window (tests; a new service starts empty too)."""
    with _windows_guard:
        _windows.clear()
