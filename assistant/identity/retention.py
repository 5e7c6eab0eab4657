"""Retention: calls older than `retention_transcript_days` and audit lines older than
`retention_audit_days` are deleted (0 keeps them for ever). A call goes from every table and
from the stored digests (`storage.delete_calls`); digests of those days keep their aggregated
counts, not their quotes or call ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from assistant import config, storage
from assistant.errors import InputError
from assistant.identity.audit import record
from assistant.storage import Connection


@dataclass(frozen=True)
class RetentionReport:
    """What a retention run deleted (or, with `dry_run`, would delete).

    Attributes:
        dry_run: nothing was deleted.
        transcript_days, audit_days: the retention applied (0: kept for ever).
        calls: ids of the calls deleted.
        digest_topics_stripped: digest topics whose quotes were removed.
        audit_lines: audit lines deleted.
    """

    dry_run: bool
    transcript_days: int
    audit_days: int
    calls: tuple[str, ...]
    digest_topics_stripped: int
    audit_lines: int

    def to_json(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "transcript_days": self.transcript_days,
            "audit_days": self.audit_days,
            "calls_deleted": len(self.calls),
            "call_ids": list(self.calls),
            "digest_topics_stripped": self.digest_topics_stripped,
            "audit_lines_deleted": self.audit_lines,
        }


def _days(value: int, name: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a whole number of days >= 0 (0 keeps data for ever), got {value!r}")
    return value


def explicit_days(transcript_days: int | None, audit_days: int | None) -> dict[str, int]:
    """The retention days a command asks for explicitly, to send to the running service: an
    option given (`--transcript-days`), else this process's environment variable
    (`ASSISTANT_RETENTION_TRANSCRIPT_DAYS`). A setting from the config file or the default is not
    sent: the service has read the same file and its own environment wins over it."""
    cfg = config.get()
    out: dict[str, int] = {}
    for name, given in (("transcript_days", transcript_days), ("audit_days", audit_days)):
        setting = f"retention_{name}"
        if given is not None:
            out[name] = _days(given, f"--{name.replace('_', '-')}")
            continue
        value = next(v for v in cfg.values() if v.name == setting)
        if value.source == f"ASSISTANT_{setting.upper()}":
            out[name] = _days(value.value, value.source)
    return out


def apply_retention(
    con: Connection,
    *,
    by: str,
    dry_run: bool = False,
    transcript_days: int | None = None,
    audit_days: int | None = None,
    at: datetime | None = None,
) -> RetentionReport:
    """Delete what is older than the retention settings (or the days given)."""
    cfg = config.get()
    at = at or datetime.now(UTC)
    t_days = _days(
        cfg.retention_transcript_days if transcript_days is None else transcript_days,
        "retention_transcript_days",
    )
    a_days = _days(cfg.retention_audit_days if audit_days is None else audit_days, "retention_audit_days")
    calls: list[str] = []
    stripped = 0
    if t_days:
        cutoff = at - timedelta(days=t_days)
        calls = storage.calls_started_before(con, cutoff)
        if not dry_run:
            storage.delete_calls(con, calls)  # their ids and quotes leave the digests of later days too
        stripped = storage.strip_digest_quotes(con, cutoff, dry_run=dry_run)
    audit_lines = 0
    if a_days:
        audit_lines = storage.delete_audit_before(con, at - timedelta(days=a_days), dry_run=dry_run)
    report = RetentionReport(dry_run, t_days, a_days, tuple(calls), stripped, audit_lines)
    if not dry_run:
        record(
            con,
            by,
            "retention.apply",
            f"calls={len(calls)} digest_topics={stripped} audit_lines={audit_lines} "
            f"transcript_days={t_days} audit_days={a_days}",
        )
    return report


def delete_one_call(con: Connection, call_id: str, *, by: str) -> None:
    """Delete one call everywhere on request (`assistant calls delete ID`)."""
    if not storage.delete_call(con, call_id):
        raise InputError(f"no stored call with id {call_id!r} (see 'assistant calls list')")
    record(con, by, "call.delete", call_id)
