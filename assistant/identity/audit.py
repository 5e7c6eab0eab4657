"""The audit log: one line per thing someone read or changed (ARCHITECTURE invariant 7).

Actions are dotted names: `sign_in`, `sign_in.failed`, `account.locked`, `call.view`, `call.delete`,
`digest.export`, `article.create`, `article.update`, `article.publish`, `user.add`, `key.create`,
`retention.apply` ... The product never updates or deletes a line, except retention of lines older
than `retention_audit_days`.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from assistant import storage
from assistant.errors import InputError
from assistant.storage import AuditFilter, AuditLine, AuditPage, Connection

log = logging.getLogger("assistant.audit")

ALERT_PREFIX = "alert."  # lines the audit view shows at its top (`alerts`)
CALL_ROLES = frozenset({"agent", "supervisor"})  # roles that read calls


def alert(con: Connection, user: str, action: str, target: str) -> None:
    """An `alert.*` line, also logged as a warning: something an admin should look at."""
    record(con, user, ALERT_PREFIX + action, target)
    log.warning("audit alert %s by %s: %s", action, user, target)


def alert_self_grant(
    con: Connection, by: str, name: str, before: tuple[str, ...], after: tuple[str, ...]
) -> None:
    """Someone gave themselves a role that reads calls: allowed, but an alert at the audit view's top."""
    gained = sorted(CALL_ROLES & (set(after) - set(before)))
    if gained and by == name:
        alert(con, by, "self_grant", f"{name} gave themselves call access: roles {','.join(gained)}")


def record(con: Connection, user: str, action: str, target: str = "", source: str | None = None) -> None:
    """Append a line: `user` did `action` to `target`, now (from the client address `source`)."""
    storage.add_audit(con, user, action, target, source=source)


def lines(
    con: Connection, since: datetime | None = None, user: str | None = None, limit: int = 10_000
) -> list[AuditLine]:
    """Lines oldest first (for code and tests; people read `page`)."""
    return storage.list_audit(con, since, user, limit)


MAX_PAGE = 10_000


def page(con: Connection, f: AuditFilter, limit: int = 100, before: int | None = None) -> AuditPage:
    """Up to `limit` lines matching `f`, newest first; `before`: the cursor of the previous page."""
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InputError(f"limit must be between 1 and {MAX_PAGE}, got {limit!r}")
    if before is not None and (not isinstance(before, int) or before < 1):
        raise InputError(
            f"before must be a line id (a whole number >= 1) from a previous page, got {before!r}"
        )
    return storage.audit_page(con, f, limit, before)


def alerts(con: Connection, limit: int = 20) -> AuditPage:
    """The latest alert lines (`alert.*`), newest first: the audit view shows them at its top."""
    return storage.audit_page(con, AuditFilter(action=ALERT_PREFIX + "*"), limit)


def line_json(line: AuditLine) -> dict[str, object]:
    """The `assistant audit --json` shape: {"id", "at", "user", "action", "target", "source"}."""
    return {
        "id": line.id,
        "at": line.at.isoformat(),
        "user": line.user,
        "action": line.action,
        "target": line.target,
        "source": line.source,
    }


def page_json(found: AuditPage) -> dict[str, object]:
    return {
        "total": found.total,
        "next_before": found.next_before,
        "lines": [line_json(x) for x in found.lines],
    }


def parse_since(value: str | None, what: str = "--since") -> datetime | None:
    """`--since` / `--until`: a date or ISO time (UTC when it names no zone); InputError otherwise."""
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"{what} {value!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_filter(
    user: str | None = None, action: str | None = None, since: str | None = None, until: str | None = None
) -> AuditFilter:
    """The filter of the CLI's and the route's options, checked."""
    return AuditFilter(user or None, action or None, parse_since(since), parse_since(until, "--until"))
