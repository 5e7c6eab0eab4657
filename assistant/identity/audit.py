"""The audit log: one line per thing someone read or changed (ARCHITECTURE invariant 7).

Actions are dotted names: `sign_in`, `sign_in.failed`, `account.locked`, `call.view`, `call.delete`,
`digest.export`, `article.create`, `article.update`, `article.publish`, `user.add`, `key.create`,
`retention.apply` ... The product never updates or deletes a line, except retention of lines older
than `retention_audit_days`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from assistant import storage
from assistant.errors import InputError
from assistant.storage import AuditLine, Connection


def record(con: Connection, user: str, action: str, target: str = "") -> None:
    """Append a line: `user` did `action` to `target`, now."""
    storage.add_audit(con, user, action, target)


def lines(
    con: Connection, since: datetime | None = None, user: str | None = None, limit: int = 10_000
) -> list[AuditLine]:
    return storage.list_audit(con, since, user, limit)


def line_json(line: AuditLine) -> dict[str, str]:
    """The `assistant audit --json` shape: {"at", "user", "action", "target"}."""
    return {"at": line.at.isoformat(), "user": line.user, "action": line.action, "target": line.target}


def parse_since(value: str | None) -> datetime | None:
    """`--since`: a date or ISO time (UTC when it names no zone); InputError otherwise."""
    if value is None or value == "":
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(f"--since {value!r} is not a date (YYYY-MM-DD) or an ISO time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
