"""Identity on a real DuckDB: accounts, sign-in and lock-out, sessions, API keys, the audit log,
retention. No service here (see test_access.py for the routes and test_admin_cli.py for the CLI)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from assistant import storage
from assistant.errors import InputError
from assistant.identity import accounts, audit, keys, retention
from assistant.identity.passwords import hash_password, verify_password
from assistant.identity.roles import Principal
from assistant.storage import CallRecord, UtteranceRecord

PASSWORD = "correct horse battery"


@pytest.fixture
def con():  # noqa: ANN201
    c = duckdb.connect(":memory:")
    storage.migrate(c)
    yield c
    c.close()


def actions(con) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [(line.user, line.action, line.target) for line in audit.lines(con)]


def test_passwords_are_argon2_and_checked() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2") and PASSWORD not in hashed
    assert verify_password(PASSWORD, hashed) and not verify_password("wrong password!", hashed)
    assert not verify_password(PASSWORD, "") and not verify_password(PASSWORD, "not-a-hash")
    with pytest.raises(InputError, match="at least 12"):
        hash_password("short")


def test_add_user_with_several_roles_and_generated_password(con) -> None:  # noqa: ANN001
    made = accounts.add_user(con, "ana", ["supervisor", "agent", "agent"], by="admin1")
    assert made.roles == ("agent", "supervisor") and made.password and len(made.password) >= 12
    stored = storage.get_user(con, "ana")
    assert stored is not None and made.password not in stored.password_hash
    session = accounts.sign_in(con, "ana", made.password)
    assert session.token.startswith("st_") and session.roles == ("agent", "supervisor")
    assert accounts.session_principal(con, session.token) == Principal(
        "ana", "user", frozenset({"agent", "supervisor"})
    )
    assert ("admin1", "user.add", "ana roles=agent,supervisor") in actions(con)
    assert ("ana", "sign_in", "ana") in actions(con)


@pytest.mark.parametrize(
    ("name", "roles", "message"),
    [
        ("ana", ["boss"], "unknown role 'boss'"),
        ("ana", [], "at least one role"),
        ("-ana", ["agent"], "is not valid"),
        ("a b", ["agent"], "is not valid"),
        ("x" * 65, ["agent"], "is not valid"),
    ],
)
def test_bad_user_input_is_refused(con, name: str, roles: list[str], message: str) -> None:  # noqa: ANN001
    with pytest.raises(InputError, match=message):
        accounts.add_user(con, name, roles, PASSWORD, by="t")
    assert storage.list_users(con) == []


def test_duplicate_unknown_and_role_changes(con) -> None:  # noqa: ANN001
    accounts.add_user(con, "ana", ["agent"], PASSWORD, by="t")
    with pytest.raises(InputError, match="already exists"):
        accounts.add_user(con, "ana", ["agent"], PASSWORD, by="t")
    assert accounts.set_roles(con, "ana", ["knowledge_manager", "admin"], by="t") == (
        "admin",
        "knowledge_manager",
    )
    with pytest.raises(InputError, match="no user 'bob'"):
        accounts.set_roles(con, "bob", ["agent"], by="t")
    with pytest.raises(InputError, match="unknown role"):
        accounts.set_roles(con, "ana", ["root"], by="t")
    session = accounts.open_session(con, storage.get_user(con, "ana"))
    accounts.remove_user(con, "ana", by="t")
    assert accounts.session_principal(con, session.token) is None  # removal ends the sessions
    with pytest.raises(InputError, match="no user 'ana'"):
        accounts.remove_user(con, "ana", by="t")
    assert [a for _, a, _ in actions(con)] == ["user.add", "user.set_roles", "user.remove"]


def test_five_wrong_passwords_lock_the_account(con, monkeypatch) -> None:  # noqa: ANN001
    accounts.add_user(con, "ana", ["agent"], PASSWORD, by="t")
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    for n in range(4):
        with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
            accounts.sign_in(con, "ana", "not the password", at=start + timedelta(seconds=n))
    accounts.sign_in(con, "ana", PASSWORD, at=start)  # a success resets the count
    for n in range(5):
        with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
            accounts.sign_in(con, "ana", "not the password", at=start + timedelta(seconds=n))
    with pytest.raises(accounts.SignInRefused, match="locked for your address until 09:15 UTC"):
        accounts.sign_in(con, "ana", PASSWORD, at=start + timedelta(minutes=14))
    assert [u["locked"] for u in accounts.users_json(con, start)] == [True]
    session = accounts.sign_in(con, "ana", PASSWORD, at=start + timedelta(minutes=16))  # lock expired
    assert session.user == "ana"
    found = [a for u, a, _ in actions(con) if u == "ana"]
    assert found.count("sign_in.failed") == 9 and "account.locked" in found
    assert "sign_in.refused_locked" in found


def test_unknown_user_is_the_same_answer_and_audited(con) -> None:  # noqa: ANN001
    with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
        accounts.sign_in(con, "nobody", PASSWORD)
    assert actions(con) == [("-", "sign_in.failed", "unknown user 'nobody'")]
    assert audit.lines(con)[0].source == "local"  # the client address (the service passes the peer's)


def test_sessions_expire(con, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("ASSISTANT_SESSION_HOURS", "2")
    from assistant import config

    config.reset()
    accounts.add_user(con, "ana", ["agent"], PASSWORD, by="t")
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    session = accounts.sign_in(con, "ana", PASSWORD, at=at)
    assert session.expires_at == at + timedelta(hours=2)
    assert accounts.session_principal(con, session.token, at=at + timedelta(minutes=119)) is not None
    assert accounts.session_principal(con, session.token, at=at + timedelta(minutes=121)) is None
    assert accounts.session_principal(con, "st_forged", at=at) is None
    assert accounts.session_principal(con, "ak_" + session.token[3:], at=at) is None


def test_keys_are_stored_hashed_with_scopes(con) -> None:  # noqa: ANN001
    made = keys.create_key(con, ["media", "read"], "twilio-fork", by="admin1")
    assert made.key.startswith("ak_") and made.scopes == ("media", "read")
    assert made.key not in repr(con.execute("SELECT * FROM api_keys").fetchall())
    principal = keys.key_principal(con, made.key)
    assert principal == Principal("twilio-fork", "key", scopes=frozenset({"media", "read"}))
    assert keys.key_principal(con, made.key + "x") is None
    assert [k["name"] for k in map(keys.key_json, keys.list_keys(con))] == ["twilio-fork"]
    keys.revoke_key(con, "twilio-fork", by="admin1")
    assert keys.key_principal(con, made.key) is None
    # A read key reads every call: it is allowed, and an alert (see test_security.py).
    assert [a for _, a, _ in actions(con)] == ["key.create", "alert.read_key", "key.revoke"]


@pytest.mark.parametrize(
    ("scopes", "name", "message"),
    [
        (["root"], None, "unknown scope 'root'"),
        ([], None, "at least one scope"),
        (["read"], "bad name", "is not valid"),
        (["read"], "local-admin", "the service's own key"),
    ],
)
def test_bad_key_input_is_refused(con, scopes, name, message) -> None:  # noqa: ANN001
    with pytest.raises(InputError, match=message):
        keys.create_key(con, scopes, name, by="t")


def test_key_errors(con) -> None:  # noqa: ANN001
    keys.create_key(con, ["read"], "k1", by="t")
    with pytest.raises(InputError, match="already exists"):
        keys.create_key(con, ["read"], "k1", by="t")
    with pytest.raises(InputError, match="no key 'k2'"):
        keys.revoke_key(con, "k2", by="t")
    with pytest.raises(InputError, match="cannot be revoked"):
        keys.revoke_key(con, "local-admin", by="t")


def test_local_admin_key_file_is_owner_only_and_renewed(con, isolated_home) -> None:  # noqa: ANN001
    path = keys.write_local_key(con)
    first = keys.read_local_key()
    assert path == isolated_home / "admin.key" and path.stat().st_mode & 0o777 == 0o600
    principal = keys.key_principal(con, first)
    assert principal is not None and principal.allowed({"admin"}) and principal.allowed({"media"})
    assert principal.sees_all_calls
    keys.write_local_key(con)
    assert keys.key_principal(con, first) is None and keys.read_local_key() != first


def test_audit_filters_and_json_shape(con) -> None:  # noqa: ANN001
    storage.add_audit(con, "ana", "call.view", "c1", at=datetime(2026, 3, 1, tzinfo=UTC))
    storage.add_audit(con, "bob", "call.view", "c2", at=datetime(2026, 3, 3, tzinfo=UTC))
    assert [x.target for x in audit.lines(con, since=audit.parse_since("2026-03-02"))] == ["c2"]
    assert [x.target for x in audit.lines(con, user="ana")] == ["c1"]
    assert audit.line_json(audit.lines(con)[0]) == {
        "id": audit.lines(con)[0].id,
        "at": "2026-03-01T00:00:00+00:00",
        "user": "ana",
        "action": "call.view",
        "target": "c1",
        "source": "",
    }
    with pytest.raises(InputError, match="not a date"):
        audit.parse_since("yesterday")


def test_audit_target_passes_the_privacy_gate(con) -> None:  # noqa: ANN001
    with pytest.raises(accounts.SignInRefused):
        accounts.sign_in(con, "4111 1111 1111 1111", PASSWORD)
    assert "4111" not in actions(con)[0][2]


def _call(call_id: str, started: datetime) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        started_at=started,
        channel="chat",
        source="test",
        outcome="resolved",
        status="complete",
        utterances=(UtteranceRecord("caller", 0.0, 1.0, "I lost my card."),),
    )


def test_retention_removes_a_31_day_old_call_from_every_table(con) -> None:  # noqa: ANN001
    now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    storage.save_call(con, _call("old", now - timedelta(days=31)))
    storage.save_call(con, _call("new", now - timedelta(days=29)))
    sid = storage.suggestion_id("old", 0)
    con.execute(
        "INSERT INTO suggestions VALUES (?, 'old', 0, 'a1', 'T', 'v', 0.9, false, 'q', ?)",
        [sid, now.replace(tzinfo=None)],
    )
    storage.add_feedback(con, "old", sid, "helpful")
    con.execute("INSERT INTO digest_calls VALUES ('2026-02-28', 'old', 't1')")
    storage.add_audit(con, "ana", "call.view", "old", at=now - timedelta(days=800))

    dry = retention.apply_retention(con, by="t", dry_run=True, transcript_days=30, audit_days=730, at=now)
    assert dry.calls == ("old",) and dry.audit_lines == 1 and storage.get_call(con, "old") is not None

    report = retention.apply_retention(con, by="t", transcript_days=30, audit_days=730, at=now)
    assert report.calls == ("old",) and report.audit_lines == 1
    for table in storage.calls.CALL_TABLES:
        left = con.execute(f"SELECT count(*) FROM {table} WHERE call_id = 'old'").fetchone()
        assert left == (0,), table
    assert storage.get_call(con, "new") is not None
    assert actions(con)[-1][:2] == ("t", "retention.apply")


def test_retention_zero_keeps_everything_and_bad_days_are_refused(con) -> None:  # noqa: ANN001
    now = datetime(2026, 3, 31, tzinfo=UTC)
    storage.save_call(con, _call("old", now - timedelta(days=3000)))
    assert retention.apply_retention(con, by="t", transcript_days=0, audit_days=0, at=now).calls == ()
    with pytest.raises(InputError, match="whole number of days"):
        retention.apply_retention(con, by="t", transcript_days=-1)


def test_delete_one_call(con) -> None:  # noqa: ANN001
    storage.save_call(con, _call("c1", datetime(2026, 3, 1, tzinfo=UTC)))
    retention.delete_one_call(con, "c1", by="admin1")
    assert storage.get_call(con, "c1") is None
    assert actions(con) == [("admin1", "call.delete", "c1")]
    with pytest.raises(InputError, match="no stored call"):
        retention.delete_one_call(con, "c1", by="admin1")


def test_demo_users_once_per_role(con) -> None:  # noqa: ANN001
    made = accounts.ensure_demo_users(con)
    assert sorted(made) == ["demo-admin", "demo-agent", "demo-knowledge-manager", "demo-supervisor"]
    assert all(storage.get_user(con, n).source == "demo" for n in made)
    assert accounts.ensure_demo_users(con) == {}
    assert accounts.sign_in(con, "demo-agent", made["demo-agent"]).roles == ("agent",)
