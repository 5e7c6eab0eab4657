"""The administration CLI contract (issue 17): `users`, `keys`, `audit`, `retention apply`,
`calls delete`; on the database directly, and through a running service as the local admin."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from service_util import wait_healthy

from assistant import storage
from assistant.cli import main
from assistant.storage import CallRecord, UtteranceRecord


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.duckdb")


def run(capsys, *args: str, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:  # noqa: ANN001
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, text: str) -> None:
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and text in lines[0], err


def test_users_add_list_set_role_remove(capsys, monkeypatch, db: str) -> None:  # noqa: ANN001
    code, out, _ = run(capsys, "users", "add", "ana", "--role", "agent", "--role", "supervisor", "--db", db)
    assert code == 0 and "added user ana (roles: agent, supervisor)" in out
    generated = out.split("password (shown once; pass it on safely): ")[1].strip()
    assert len(generated) >= 12
    code, out, _ = run(capsys, "users", "add", "kim", "--role", "knowledge_manager", "--password-stdin",
                       "--db", db, stdin="correct horse battery\n", monkeypatch=monkeypatch)  # fmt: skip
    assert code == 0 and "password" not in out.replace("added user", "")
    code, out, _ = run(capsys, "users", "list", "--json", "--db", db)
    rows = json.loads(out)
    assert [(r["name"], r["roles"], r["locked"]) for r in rows] == [
        ("ana", ["agent", "supervisor"], False),
        ("kim", ["knowledge_manager"], False),
    ]
    assert "hash" not in out
    code, out, _ = run(capsys, "users", "set-role", "ana", "admin", "agent", "--db", db)
    assert code == 0 and "admin, agent" in out
    code, out, _ = run(capsys, "users", "remove", "kim", "--db", db)
    assert code == 0
    code, out, _ = run(capsys, "users", "list", "--db", db)
    assert out.split()[0] == "ana" and "kim" not in out
    con = storage.open_db(db)
    try:
        user = storage.get_user(con, "ana")
        assert user is not None and user.roles == ("admin", "agent")
        from assistant.identity.accounts import sign_in

        assert sign_in(con, "ana", generated).user == "ana"  # the printed password works
    finally:
        con.close()


@pytest.mark.parametrize(
    ("args", "stdin", "text"),
    [
        (["users", "add", "ana", "--role", "boss"], None, "unknown role 'boss'"),
        (["users", "add", "a b", "--role", "agent"], None, "is not valid"),
        (["users", "add", "ana", "--role", "agent", "--password-stdin"], "short\n", "at least 12"),
        (["users", "add", "ana", "--role", "agent", "--password-stdin"], "", "nothing on standard input"),
        (["users", "add", "ana", "--role", "agent"], None, "user 'ana' already exists"),
        (["users", "remove", "nobody"], None, "no user 'nobody'"),
        (["users", "set-role", "nobody", "agent"], None, "no user 'nobody'"),
        (["users", "set-role", "ana", "root"], None, "unknown role 'root'"),
        (["keys", "create", "--scope", "everything"], None, "unknown scope 'everything'"),
        (["keys", "create", "--scope", "read", "--name", "no way"], None, "is not valid"),
        (["keys", "revoke", "nope"], None, "no key 'nope'"),
        (["audit", "--since", "last week"], None, "not a date"),
        (["calls", "delete", "nope"], None, "no stored call"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, monkeypatch, db: str, args, stdin, text) -> None:  # noqa: ANN001
    run(capsys, "users", "add", "ana", "--role", "agent", "--db", db)
    code, out, err = run(capsys, *args, "--db", db, stdin=stdin, monkeypatch=monkeypatch)
    one_line_error(code, err, text)


def test_keys_create_prints_the_key_once(capsys, db: str) -> None:  # noqa: ANN001
    code, out, err = run(
        capsys, "keys", "create", "--scope", "media", "--scope", "read", "--name", "fork", "--db", db
    )
    assert code == 0 and "created key fork (scopes: media, read)" in out and "shown once" in err
    key = out.strip().splitlines()[-1]
    assert key.startswith("ak_")
    code, out, _ = run(capsys, "keys", "list", "--json", "--db", db)
    assert json.loads(out)[0]["name"] == "fork" and key not in out
    assert run(capsys, "keys", "revoke", "fork", "--db", db)[0] == 0
    assert json.loads(run(capsys, "keys", "list", "--json", "--db", db)[1]) == []


def _call(call_id: str, started: datetime) -> CallRecord:
    utterance = UtteranceRecord("caller", 0.0, 1.0, "I lost my card.")
    return CallRecord(call_id=call_id, started_at=started, channel="chat", source="t",
                      outcome="resolved", status="complete", utterances=(utterance,))  # fmt: skip


def test_retention_apply_with_30_days_removes_a_31_day_old_call(capsys, monkeypatch, db: str) -> None:  # noqa: ANN001
    now = datetime.now(UTC)
    con = storage.open_db(db)
    storage.save_call(con, _call("old", now - timedelta(days=31)))
    storage.save_call(con, _call("recent", now - timedelta(days=29)))
    con.close()
    monkeypatch.setenv("ASSISTANT_RETENTION_TRANSCRIPT_DAYS", "30")
    from assistant import config

    config.reset()
    code, out, _ = run(capsys, "retention", "apply", "--dry-run", "--json", "--db", db)
    dry = json.loads(out)
    assert code == 0 and dry["dry_run"] and dry["call_ids"] == ["old"] and dry["transcript_days"] == 30
    code, out, _ = run(capsys, "retention", "apply", "--db", db)
    assert code == 0 and out.startswith("deleted 1 call(s) older than 30 days")
    con = storage.open_db(db)
    try:
        for table in storage.calls.CALL_TABLES:
            assert con.execute(f"SELECT count(*) FROM {table} WHERE call_id = 'old'").fetchone() == (0,)
        assert storage.get_call(con, "recent") is not None
    finally:
        con.close()
    code, out, _ = run(capsys, "audit", "--json", "--db", db)
    lines = json.loads(out)
    assert [set(x) for x in lines] == [{"id", "at", "user", "action", "target", "source"}]
    assert lines[0]["user"] == "local-admin" and lines[0]["action"] == "retention.apply"


def test_calls_delete_and_audit_filters(capsys, db: str) -> None:  # noqa: ANN001
    con = storage.open_db(db)
    storage.save_call(con, _call("c1", datetime.now(UTC)))
    con.close()
    assert run(capsys, "calls", "delete", "c1", "--db", db)[0] == 0
    run(capsys, "users", "add", "ana", "--role", "agent", "--db", db)
    code, out, _ = run(
        capsys, "audit", "--json", "--user", "local-admin", "--since", "2020-01-01", "--db", db
    )
    assert [(x["action"], x["target"]) for x in json.loads(out)] == [  # newest first
        ("user.add", "ana roles=agent"),
        ("call.delete", "c1"),
    ]
    code, out, _ = run(capsys, "audit", "--db", db)
    assert "call.delete" in out and "user.add" in out
    assert json.loads(run(capsys, "audit", "--json", "--since", "2999-01-01", "--db", db)[1]) == []


# ---------------------------------------------------------------- through the running service


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True,
                          timeout=120, input=stdin)  # fmt: skip


def test_the_cli_acts_as_local_admin_through_the_service(isolated_home: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--no-warm"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, server)
        key_file = isolated_home / "admin.key"
        db = isolated_home / "assistant.duckdb"
        assert key_file.stat().st_mode & 0o777 == 0o600 and db.stat().st_mode & 0o777 == 0o600
        added = cli(
            "users", "add", "ana", "--role", "agent", "--password-stdin", stdin="correct horse battery\n"
        )
        assert added.returncode == 0, added.stderr
        assert json.loads(cli("users", "list", "--json").stdout)[0]["name"] == "ana"
        bad = cli("users", "add", "bob", "--role", "boss")
        assert bad.returncode == 2 and bad.stderr.strip().splitlines() == [
            "error: unknown role 'boss'; use one of: agent, supervisor, knowledge_manager, admin"
        ]
        session = httpx.post(f"{url}/auth/sign-in", json={"name": "ana", "password": "correct horse battery"})
        headers = {"Authorization": f"Bearer {session.json()['token']}"}
        assert httpx.get(f"{url}/calls", headers=headers).status_code == 200
        assert httpx.get(f"{url}/users", headers=headers).status_code == 403
        assert httpx.get(f"{url}/calls", headers={**headers, "Host": "evil.example"}).status_code == 403
        assert httpx.get(f"{url}/openapi.json").status_code == 401
        for n in range(5):  # a forged X-Forwarded-For per guess is not another address (issue 29)
            forged = {"X-Forwarded-For": f"10.0.0.{n}"}
            httpx.post(
                f"{url}/auth/sign-in", json={"name": "ana", "password": "Wrong-guess-123"}, headers=forged
            )
        locked = httpx.post(f"{url}/auth/sign-in", json={"name": "ana", "password": "correct horse battery"})
        assert locked.status_code == 401 and "locked for your address" in locked.json()["detail"]
        assert json.loads(cli("users", "list", "--json").stdout)[0]["locked"] is True
        unlocked = cli("users", "unlock", "ana")
        assert unlocked.returncode == 0 and "unlocked user ana" in unlocked.stdout, unlocked.stderr
        weak = cli("users", "set-password", "ana", "--password-stdin", stdin="password1234\n")
        assert weak.returncode == 2 and "most common" in weak.stderr
        changed = cli("users", "set-password", "ana", "--password-stdin", stdin="another fine passphrase\n")
        assert changed.returncode == 0, changed.stderr
        assert httpx.get(f"{url}/calls", headers=headers).status_code == 401  # her sessions ended
        again = httpx.post(f"{url}/auth/sign-in", json={"name": "ana", "password": "another fine passphrase"})
        assert again.status_code == 200
        audit = json.loads(cli("audit", "--json").stdout)
        assert ("local-admin", "user.add") in {(x["user"], x["action"]) for x in audit}
        assert ("ana", "sign_in") in {(x["user"], x["action"]) for x in audit}
        # Without the key file (another user on this machine), the CLI is refused.
        os.rename(key_file, isolated_home / "moved.key")
        refused = cli("users", "list")
        assert refused.returncode == 2 and "refused the token" in refused.stderr
    finally:
        server.terminate()
        server.wait(30)


def test_demo_accounts_are_made_once_kept_owner_only_and_printed_by_up(
    tmp_path: Path, isolated_home: Path
) -> None:
    from service_util import AuthedClient, make_app

    from assistant.commands.up import demo_accounts_text

    assert demo_accounts_text(False) is None
    with AuthedClient(make_app(tmp_path, demo_accounts=True)) as c:
        names = {u["name"] for u in c.get("/users").json()}
    assert names == {"demo-agent", "demo-supervisor", "demo-knowledge-manager", "demo-admin"}
    path = isolated_home / "demo-accounts.txt"
    assert path.stat().st_mode & 0o777 == 0o600 and len(path.read_text().splitlines()) == 4
    with AuthedClient(make_app(tmp_path, demo_accounts=True)):
        pass
    assert len(path.read_text().splitlines()) == 4  # made once: a restart adds none
    text = demo_accounts_text(False)
    assert text is not None and "demo-supervisor" in text and str(path) in text
    assert "password demo" in (demo_accounts_text(True) or "")


def test_demo_accounts_only_on_this_machine(capsys, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("ASSISTANT_API_TOKEN", "t" * 20)
    from assistant import config

    config.reset()
    code, _, err = run(capsys, "serve", "--host", "0.0.0.0", "--demo-accounts", "--port", "8851")
    one_line_error(code, err, "--demo-accounts is for a service on this machine only")
