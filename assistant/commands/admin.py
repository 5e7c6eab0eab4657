"""Administration: `users`, `keys`, `audit`, `retention` (the CLI contract is in docs/service.md).

While the service runs, these go through it as the local admin (the key file `<home>/admin.key`
that only the service's own user can read); otherwise they open the database themselves. Either way
every change leaves an audit line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from assistant import storage
from assistant.errors import InputError
from assistant.identity import accounts, audit, keys, retention
from assistant.identity.keys import LOCAL_KEY_NAME
from assistant.identity.roles import ROLES, SCOPES
from assistant.service.client import ServiceClient, running_service

BY = LOCAL_KEY_NAME  # who the audit log names for a change made from this machine's CLI


@contextlib.contextmanager
def target(db: str | None) -> Iterator[tuple[ServiceClient | None, Any]]:
    """(the running service's client, None) or (None, a database connection)."""
    service = running_service(db)
    if service is not None:
        with service:
            yield service, None
        return
    con = storage.open_db(db)
    try:
        yield None, con
    finally:
        con.close()


def _split(values: list[str] | None) -> list[str]:
    return [p.strip() for v in values or [] for p in v.split(",") if p.strip()]


def register(subparsers: argparse._SubParsersAction) -> None:
    u = subparsers.add_parser("users", help="people who sign in, and their roles")
    sub = u.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a local account (its password is generated and shown once)")
    add.add_argument("name")
    add.add_argument(
        "--role", action="append", required=True, help=f"one of {', '.join(ROLES)}; repeat for more"
    )
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--db")
    add.set_defaults(func=run_users_add)
    ls = sub.add_parser("list", help="the accounts and their roles")
    ls.add_argument("--json", action="store_true")
    ls.add_argument("--db")
    ls.set_defaults(func=run_users_list)
    rm = sub.add_parser("remove", help="remove an account (its sessions end)")
    rm.add_argument("name")
    rm.add_argument("--db")
    rm.set_defaults(func=run_users_remove)
    sr = sub.add_parser("set-role", help="replace an account's roles")
    sr.add_argument("name")
    sr.add_argument("roles", nargs="+", metavar="ROLE")
    sr.add_argument("--db")
    sr.set_defaults(func=run_users_set_role)
    ul = sub.add_parser("unlock", help="lift an account's sign-in locks (from every address)")
    ul.add_argument("name")
    ul.add_argument("--db")
    ul.set_defaults(func=run_users_unlock)
    sp = sub.add_parser("set-password", help="give a local account a new password (its sessions end)")
    sp.add_argument("name")
    sp.add_argument(
        "--password-stdin", action="store_true", required=True, help="read the password from standard input"
    )
    sp.add_argument("--db")
    sp.set_defaults(func=run_users_set_password)

    k = subparsers.add_parser("keys", help="API keys for machine clients (telephony, batch jobs)")
    ksub = k.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    kc = ksub.add_parser("create", help="create a key; it is printed once")
    kc.add_argument(
        "--scope", action="append", required=True, help=f"one of {', '.join(SCOPES)}; repeat for more"
    )
    kc.add_argument("--name", help="a name to list and revoke it by (default: generated)")
    kc.add_argument("--audiohook", action="store_true", help="also a client secret (Genesys AudioHook)")
    kc.add_argument("--db")
    kc.set_defaults(func=run_keys_create)
    kl = ksub.add_parser("list", help="keys and their scopes (never the keys themselves)")
    kl.add_argument("--json", action="store_true")
    kl.add_argument("--db")
    kl.set_defaults(func=run_keys_list)
    kr = ksub.add_parser("revoke", help="revoke a key")
    kr.add_argument("name")
    kr.add_argument("--db")
    kr.set_defaults(func=run_keys_revoke)

    a = subparsers.add_parser(
        "audit", help="the audit log, newest first: who read or changed what, and when (alerts on top)"
    )
    a.add_argument("--limit", type=int, default=100, help="lines per page (default 100)")
    a.add_argument("--before", type=int, metavar="CURSOR", help="the next page: lines older than this id")
    a.add_argument("--since", help="from this date (YYYY-MM-DD) or ISO time, UTC")
    a.add_argument("--until", help="before this date (YYYY-MM-DD) or ISO time, UTC")
    a.add_argument("--user", help="only this user's (or key's) lines")
    a.add_argument("--action", help="only this action (a prefix with '*': 'sign_in*')")
    a.add_argument(
        "--json", action="store_true", help='a JSON list of {"id", "at", "user", "action", "target"}'
    )
    a.add_argument("--db")
    a.set_defaults(func=run_audit)

    r = subparsers.add_parser("retention", help="delete calls and audit lines older than their retention")
    rsub = r.add_subparsers(dest="retention_command", metavar="ACTION", required=True)
    ra = rsub.add_parser("apply", help="apply the retention settings now")
    ra.add_argument("--dry-run", action="store_true", help="say what would be deleted; delete nothing")
    for what, setting in (("transcript", "retention_transcript_days"), ("audit", "retention_audit_days")):
        ra.add_argument(
            f"--{what}-days",
            type=int,
            metavar="N",
            help=f"days to keep (0: for ever) instead of the {setting} setting; wins over the "
            "running service's own setting, as does this command's ASSISTANT_" + setting.upper(),
        )
    ra.add_argument("--json", action="store_true")
    ra.add_argument("--db")
    ra.set_defaults(func=run_retention)


# ---------------------------------------------------------------- users


def _read_password() -> str:
    line = sys.stdin.readline()
    if not line:
        raise InputError("--password-stdin: nothing on standard input")
    return line.rstrip("\r\n")


def run_users_add(args: argparse.Namespace) -> int:
    roles = _split(args.role)
    password = _read_password() if args.password_stdin else None
    with target(args.db) as (service, con):
        if service is not None:
            made = service.add_user(args.name, roles, password)
            name, found, generated = made["name"], made["roles"], made["password"]
        else:
            new = accounts.add_user(con, args.name, roles, password, by=BY)
            name, found, generated = new.name, list(new.roles), new.password
    print(f"added user {name} (roles: {', '.join(found)})")
    if generated:
        print(f"password (shown once; pass it on safely): {generated}")
    return 0


def run_users_list(args: argparse.Namespace) -> int:
    with target(args.db) as (service, con):
        rows = service.users() if service is not None else accounts.users_json(con)
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        locked = f"  locked until {r['locked_until']}" if r["locked"] else ""
        print(f"{r['name']:<24} {','.join(r['roles']):<40} {r['source']}{locked}")
    return 0


def run_users_remove(args: argparse.Namespace) -> int:
    with target(args.db) as (service, con):
        if service is not None:
            service.remove_user(args.name)
        else:
            accounts.remove_user(con, args.name, by=BY)
    print(f"removed user {args.name}")
    return 0


def run_users_set_role(args: argparse.Namespace) -> int:
    roles = _split(args.roles)
    with target(args.db) as (service, con):
        found = (
            service.set_roles(args.name, roles)
            if service is not None
            else list(accounts.set_roles(con, args.name, roles, by=BY))
        )
    print(f"user {args.name} now has roles: {', '.join(found)}")
    return 0


def run_users_unlock(args: argparse.Namespace) -> int:
    with target(args.db) as (service, con):
        if service is not None:
            sources = service.unlock_user(args.name)["sources"]
        else:
            sources = accounts.unlock_user(con, args.name, by=BY)
    print(f"unlocked user {args.name} (failed sign-ins from {sources} address(es) forgotten)")
    return 0


def run_users_set_password(args: argparse.Namespace) -> int:
    password = _read_password()
    with target(args.db) as (service, con):
        if service is not None:
            service.set_password(args.name, password)
        else:
            accounts.set_password(con, args.name, password, by=BY)
    print(f"set a new password for {args.name}; their sessions have ended")
    return 0


# ---------------------------------------------------------------- keys


def run_keys_create(args: argparse.Namespace) -> int:
    scopes = _split(args.scope)
    with target(args.db) as (service, con):
        if service is not None:
            made = service.create_key(scopes, args.name, client_secret=args.audiohook)
            name, key, found, secret = made["name"], made["key"], made["scopes"], made.get("client_secret")
        else:
            new = keys.create_key(con, scopes, args.name, by=BY, client_secret=args.audiohook)
            name, key, found, secret = new.name, new.key, list(new.scopes), new.client_secret
    print(f"created key {name} (scopes: {', '.join(found)}); clients send 'Authorization: Bearer KEY'.")
    print("The key is shown once; store it now:", file=sys.stderr)
    if secret is None:
        print(key)
        return 0
    print(f"api key: {key}")  # AudioHook's two credentials, last, one a line
    print(f"client secret: {secret}")
    return 0


def run_keys_list(args: argparse.Namespace) -> int:
    with target(args.db) as (service, con):
        rows = service.keys() if service is not None else [keys.key_json(k) for k in keys.list_keys(con)]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return 0
    for r in rows:
        print(f"{r['name']:<24} {','.join(r['scopes']):<28} created {r['created_at']} by {r['created_by']}")
    return 0


def run_keys_revoke(args: argparse.Namespace) -> int:
    with target(args.db) as (service, con):
        if service is not None:
            service.revoke_key(args.name)
        else:
            keys.revoke_key(con, args.name, by=BY)
    print(f"revoked key {args.name}")
    return 0


# ---------------------------------------------------------------- audit and retention


def run_audit(args: argparse.Namespace) -> int:
    # Bad options are refused before anything is opened.
    found = audit.parse_filter(args.user, args.action, args.since, args.until)
    if not 1 <= args.limit <= audit.MAX_PAGE:
        raise InputError(f"--limit must be between 1 and {audit.MAX_PAGE}, got {args.limit}")
    if args.before is not None and args.before < 1:
        raise InputError(f"--before must be a line id from a previous page (>= 1), got {args.before}")
    with target(args.db) as (service, con):
        if service is not None:
            page = service.audit_page(
                limit=args.limit,
                before=args.before,
                user=args.user,
                action=args.action,
                since=args.since,
                until=args.until,
            )
        else:
            page = {
                **audit.page_json(audit.page(con, found, args.limit, args.before)),
                "alerts": [audit.line_json(x) for x in audit.alerts(con).lines],
            }
    shown = f"{len(page['lines'])} of {page['total']} line(s), newest first"
    more = f"; older: --before {page['next_before']}" if page["next_before"] is not None else ""
    if args.json:
        print(json.dumps(page["lines"], ensure_ascii=False))
        print(shown + more, file=sys.stderr)
        return 0
    if page["alerts"] and args.before is None:
        print(f"ALERTS ({len(page['alerts'])} latest; see docs/service.md, Security):")
        for r in page["alerts"]:
            print(f"  {r['at']}  {r['user']:<20} {r['action']:<22} {r['target']}")
        print()
    for r in page["lines"]:
        source = f"  (from {r['source']})" if r.get("source") else ""
        print(f"{r['id']:>8}  {r['at']}  {r['user']:<20} {r['action']:<22} {r['target']}{source}")
    print(shown + more)
    return 0


def run_retention(args: argparse.Namespace) -> int:
    # Explicit days (an option, else this command's environment) win over the service's own
    # settings; refused here when malformed, before anything is opened.
    days = retention.explicit_days(args.transcript_days, args.audit_days)
    with target(args.db) as (service, con):
        if service is not None:
            report = service.apply_retention(
                args.dry_run, days.get("transcript_days"), days.get("audit_days")
            )
        else:
            report = retention.apply_retention(
                con,
                by=BY,
                dry_run=args.dry_run,
                transcript_days=days.get("transcript_days"),
                audit_days=days.get("audit_days"),
            ).to_json()
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
        return 0
    verb = "would delete" if report["dry_run"] else "deleted"
    print(
        f"{verb} {report['calls_deleted']} call(s) older than {report['transcript_days']} days, "
        f"{report['audit_lines_deleted']} audit line(s) older than {report['audit_days']} days "
        "(0 days: kept for ever)"
    )
    return 0
