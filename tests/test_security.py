"""Issue 29, as an attacker tries it: the audit view a flood cannot bury (3), sign-in locks counted
before the password check and per (name, address) with back-off (4, 5), answers that do not tell
names or other calls apart, nested JSON, weak passwords (12), and admins granting themselves call
access (13). Through the REST API (the ASGI app, and threads against it), the CLI and the console."""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from service_util import AuthedClient, as_user, hub, make_app, run_call, twilio_messages

from assistant import storage
from assistant.cli import main
from assistant.errors import InputError
from assistant.identity import accounts, audit, throttle

PASSWORD = "correct horse battery"


@pytest.fixture(autouse=True)
def fresh_budget():  # noqa: ANN201
    throttle.reset_audit_budget()  # the audit budget is per process; each test starts with none used
    yield
    throttle.reset_audit_budget()


@pytest.fixture
def c(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path)) as client:
        yield client


@pytest.fixture
def con():  # noqa: ANN201
    with duckdb.connect(":memory:") as db:
        storage.migrate(db)  # the schema, sign_in_throttle included
        yield db


def from_address(c: TestClient, address: str) -> TestClient:
    """A client of the same running app that connects from `address` (no lifespan of its own)."""
    return TestClient(c.app, client=(address, 50000))


def sign_in(client: TestClient, name: str, password: str) -> tuple[int, str]:
    answer = client.post("/auth/sign-in", json={"name": name, "password": password})
    return answer.status_code, answer.json().get("detail", "")


def add_user(c: TestClient, name: str, *roles: str) -> None:
    assert (
        c.post("/users", json={"name": name, "roles": list(roles), "password": PASSWORD}).status_code == 201
    )


def actions(c: TestClient, source: str | None = None, **params: str) -> list[tuple[str, str, str]]:
    lines = c.get("/audit", params={"limit": 10_000, **params}).json()
    return [(x["user"], x["action"], x["target"]) for x in lines if source is None or x["source"] == source]


# ---------------------------------------------------------------- 3. the audit view


def test_after_a_flood_of_failed_sign_ins_the_newest_lines_come_first_paged_with_a_total(
    c: TestClient,
) -> None:
    stranger = from_address(c, "203.0.113.7")
    for n in range(300):  # 10,000 in 92 s buried the log on main; 300 show it
        assert sign_in(stranger, f"guess{n % 4}", "not the password!")[0] == 401
    add_user(c, "ana", "agent")  # the event an admin must see after the flood
    first = c.get("/audit", params={"limit": 5})
    assert first.status_code == 200
    lines = first.json()
    assert (lines[0]["action"], lines[0]["target"]) == ("user.add", "ana roles=agent")
    total = int(first.headers["X-Total-Count"])
    assert total == len(actions(c))
    ids = [x["id"] for x in lines]
    assert ids == sorted(ids, reverse=True) and len(ids) == 5
    second = c.get("/audit", params={"limit": 5, "before": first.headers["X-Next-Cursor"]}).json()
    assert second and max(x["id"] for x in second) < min(ids)  # the next page is older, no overlap
    # The flood is written within its budgets (checked failures, and refusals of a locked name): 20
    # lines each one by one, a notice, the rest counted. On main all 300 were lines.
    flood = actions(c, source="203.0.113.7")
    assert len(flood) <= 2 * (throttle.AUDIT_BURST + 1), len(flood)
    assert any(a[1] == "sign_in.throttled" for a in flood)


def test_audit_filters_on_the_api(c: TestClient) -> None:
    add_user(c, "ana", "agent")
    add_user(c, "bob", "agent")
    c.delete("/users/bob")
    assert [a[1] for a in actions(c, action="user.remove")] == ["user.remove"]
    assert [a[2] for a in actions(c, action="user.*")][0] == "bob"
    assert {a[0] for a in actions(c, user="local-admin")} == {"local-admin"}
    assert actions(c, since="2999-01-01") == [] and actions(c, until="2000-01-01") == []
    assert len(actions(c, since="2000-01-01", until="2999-01-01")) == len(actions(c))
    for params in ({"until": "soon"}, {"limit": 0}, {"limit": 20_000}, {"before": 0}):
        answer = c.get("/audit", params=params)
        assert answer.status_code == 400, params


def test_the_audit_cli_pages_newest_first_with_a_total(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    db = str(tmp_path / "cli.duckdb")
    con = storage.open_db(db)
    for n in range(12):
        storage.add_audit(con, "ana", "call.view", f"c{n}", at=datetime(2026, 3, 1, 9, n, tzinfo=UTC))
    storage.add_audit(con, "bob", "digest.export", "2026-03-01 csv", at=datetime(2026, 3, 2, tzinfo=UTC))
    con.close()
    assert main(["audit", "--json", "--limit", "5", "--db", db]) == 0
    out, err = capsys.readouterr()
    page = json.loads(out)
    assert [x["target"] for x in page] == ["2026-03-01 csv", "c11", "c10", "c9", "c8"]
    assert "5 of 13 line(s), newest first; older: --before" in err
    cursor = err.rsplit("--before ", 1)[1].strip()
    assert main(["audit", "--json", "--limit", "5", "--before", cursor, "--db", db]) == 0
    assert [x["target"] for x in json.loads(capsys.readouterr().out)] == ["c7", "c6", "c5", "c4", "c3"]
    assert main(["audit", "--json", "--action", "call.view", "--until", "2026-03-01T09:02", "--db", db]) == 0
    assert [x["target"] for x in json.loads(capsys.readouterr().out)] == ["c1", "c0"]
    assert main(["audit", "--user", "bob", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "digest.export" in out and "call.view" not in out and "1 of 1 line(s)" in out
    for bad in (["--limit", "0"], ["--before", "-3"], ["--until", "tomorrow"]):
        assert main(["audit", *bad, "--db", db]) == 2
        assert capsys.readouterr().err.startswith("error:")


# ---------------------------------------------------------------- 4. concurrent guesses


def test_concurrent_wrong_passwords_check_at_most_five_and_none_gets_a_503(c: TestClient) -> None:
    add_user(c, "admin1", "admin")
    stranger = from_address(c, "198.51.100.9")
    statuses: list[int] = []
    start = threading.Barrier(30)

    def guess() -> None:
        start.wait()
        statuses.append(
            stranger.post("/auth/sign-in", json={"name": "admin1", "password": "Wrong-guess-123"}).status_code
        )

    threads = [threading.Thread(target=guess) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(set(statuses)) == [401], statuses  # no 500/503 from a write conflict
    checked = [a for a in actions(c, action="sign_in.failed") if a[0] == "admin1"]
    assert len(checked) == throttle.MAX_FAILURES, checked  # all 30 were checked before
    status, detail = sign_in(stranger, "admin1", PASSWORD)
    assert status == 401 and "locked for your address" in detail  # the right one is refused now


# ---------------------------------------------------------------- 5. locks per address, back-off, unlock


def test_a_stranger_cannot_lock_the_admin_out_from_another_address(c: TestClient) -> None:
    add_user(c, "admin1", "admin")
    stranger, admin = from_address(c, "203.0.113.50"), from_address(c, "192.0.2.10")
    for _ in range(5):
        assert sign_in(stranger, "admin1", "Wrong-guess-123") == (401, "wrong user name or password")
    assert "locked" in sign_in(stranger, "admin1", PASSWORD)[1]
    assert sign_in(admin, "admin1", PASSWORD)[0] == 200  # the admin, elsewhere, is not locked out
    listed = {u["name"]: u for u in c.get("/users").json()}
    assert listed["admin1"]["locked"] is True and listed["admin1"]["locked_until"]
    assert c.post("/users/admin1/unlock").json() == {"name": "admin1", "sources": 1}
    assert sign_in(stranger, "admin1", PASSWORD)[0] == 200
    assert ("local-admin", "user.unlock", "admin1 sources=1") in actions(c)
    assert c.post("/users/nobody/unlock").status_code == 400


def test_each_lock_of_the_same_address_lasts_twice_as_long(con) -> None:  # noqa: ANN001
    accounts.add_user(con, "ana", ["agent"], PASSWORD, by="t")
    at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    ends = []
    for _ in range(3):
        for n in range(5):
            with pytest.raises(accounts.SignInRefused, match="wrong user name or password"):
                accounts.sign_in(
                    con, "ana", "not the password", source="203.0.113.1", at=at + timedelta(seconds=n)
                )
        with pytest.raises(accounts.SignInRefused, match="locked") as refused:
            accounts.sign_in(con, "ana", PASSWORD, source="203.0.113.1", at=at + timedelta(seconds=10))
        until = datetime.strptime(str(refused.value).split("until ")[1][:5], "%H:%M")
        ends.append(until)
        at = at.replace(hour=until.hour, minute=until.minute) + timedelta(minutes=1)
    # Locked at the 5th attempt (4 s into each round) for 15, 30, then 60 minutes.
    assert [(e.hour, e.minute) for e in ends] == [(9, 15), (9, 46), (10, 47)]
    assert accounts.sign_in(con, "ana", PASSWORD, source="203.0.113.2", at=at).user == "ana"
    accounts.sign_in(con, "ana", PASSWORD, source="203.0.113.1", at=at)  # the lock has run out
    assert throttle.lock_length(20) == throttle.MAX_LOCK


def test_unlock_and_set_password_on_the_cli(capsys, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    db = str(tmp_path / "cli.duckdb")
    con = storage.open_db(db)
    accounts.add_user(con, "ana", ["admin"], PASSWORD, by="t")
    session = accounts.sign_in(con, "ana", PASSWORD)
    for _ in range(5):
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(con, "ana", "not the password", source="203.0.113.1")
    con.close()
    assert main(["users", "list", "--db", db]) == 0
    assert "locked until" in capsys.readouterr().out
    assert main(["users", "unlock", "ana", "--db", db]) == 0
    assert "unlocked user ana" in capsys.readouterr().out
    assert main(["users", "list", "--json", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out)[0]["locked"] is False
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a new long passphrase\n"))
    assert main(["users", "set-password", "ana", "--password-stdin", "--db", db]) == 0
    assert "sessions have ended" in capsys.readouterr().out
    for stdin, text in (
        ("password1234\n", "most common"),
        ("ana-ana-ana-ana\n", "user name"),
        ("short\n", "at least 12"),
    ):
        monkeypatch.setattr("sys.stdin", __import__("io").StringIO(stdin))
        assert main(["users", "set-password", "ana", "--password-stdin", "--db", db]) == 2
        assert text in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("a new long passphrase\n"))
    assert main(["users", "set-password", "nobody", "--password-stdin", "--db", db]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    con = storage.open_db(db)
    try:
        assert accounts.session_principal(con, session.token) is None
        assert accounts.sign_in(con, "ana", "a new long passphrase").user == "ana"
        with pytest.raises(accounts.SignInRefused):
            accounts.sign_in(con, "ana", PASSWORD)
        done = [(x.user, x.action) for x in audit.lines(con)]
        assert ("local-admin", "user.unlock") in done and ("local-admin", "user.set_password") in done
    finally:
        con.close()


def test_set_password_on_the_api(c: TestClient) -> None:
    add_user(c, "ana", "agent")
    assert c.put("/users/ana/password", json={"password": "password1234"}).status_code == 400
    assert c.put("/users/ana/password", json={"password": "another fine passphrase"}).json() == {
        "name": "ana",
        "password_set": True,
    }
    assert sign_in(c, "ana", "another fine passphrase")[0] == 200


# ---------------------------------------------------------------- 12. what answers give away


def test_locked_answers_do_not_tell_known_from_unknown_names(c: TestClient, monkeypatch) -> None:  # noqa: ANN001
    add_user(c, "admin1", "admin")
    checks: list[str] = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda p, h: checks.append(h[:7]) or real(p, h))
    stranger = from_address(c, "203.0.113.66")
    answers = {}
    for name in ("admin1", "no-such-user"):
        got = [sign_in(stranger, name, "Wrong-guess-123") for _ in range(7)]
        answers[name] = [(s, re.sub(r"until \d\d:\d\d", "until HH:MM", d)) for s, d in got]
    assert answers["admin1"] == answers["no-such-user"]
    assert answers["admin1"][-1][0] == 401 and "locked for your address" in answers["admin1"][-1][1]
    assert len(checks) == 10  # the same work for both: 5 hashes checked each, none while locked


def test_feedback_on_another_agents_suggestion_is_the_not_found_answer(c: TestClient) -> None:
    assert run_call(c, twilio_messages("CA-ana", agent="ana")) == 1000
    assert run_call(c, twilio_messages("CA-bob", agent="bob")) == 1000
    assert hub(c).drain(30)
    assert c.get("/calls/CA-bob").json()["suggestions"], "the fake call has a suggestion"
    ana = as_user(c, "ana", "agent")
    answers = []
    for suggestion in ("CA-bob:0", "CA-nowhere:0"):
        got = c.post(
            "/calls/CA-ana/feedback", json={"suggestion_id": suggestion, "kind": "helpful"}, headers=ana
        )
        answers.append((got.status_code, got.json()["detail"].replace(suggestion, "ID")))
    assert answers[0] == answers[1] and answers[0][0] in (400, 404), answers
    assert "belongs to" not in answers[0][1]


@pytest.mark.parametrize("content_type", ["application/json", None])
def test_json_nested_2000_deep_is_a_clear_422(c: TestClient, content_type: str | None) -> None:
    body = '{"text": ' + "[" * 2000 + "]" * 2000 + "}"
    headers = {"Content-Type": content_type} if content_type else {}
    for path in ("/search", "/users", "/auth/sign-in"):
        answer = c.post(path, content=body.encode(), headers=headers)
        assert answer.status_code == 422, (path, answer.status_code)
        assert "nested deeper than" in answer.text
    assert c.post("/search", json={"text": [[["a"]]]}).status_code == 422  # shallow: the route's own answer


@pytest.mark.parametrize(
    ("name", "password", "text"),
    [
        ("admin1", "password1234", "most common"),
        ("admin1", "qwerty123456", "most common"),
        ("admin1", "admin1admin1", "user name"),
        ("boss", "xx-BOSS-2026-xx", "user name"),
        ("admin1", "aaaaaaaaaaaaaaaa", "most common"),
    ],
)
def test_weak_admin_passwords_are_refused_on_the_api(
    c: TestClient, name: str, password: str, text: str
) -> None:
    answer = c.post("/users", json={"name": name, "roles": ["admin"], "password": password})
    assert answer.status_code == 400 and text in answer.json()["detail"]
    assert all(u["name"] != name for u in c.get("/users").json())


def test_weak_password_on_the_cli_is_exit_2(capsys, monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO("password1234\n"))
    code = main(
        ["users", "add", "admin1", "--role", "admin", "--password-stdin", "--db", str(tmp_path / "x.duckdb")]
    )
    assert code == 2 and "most common" in capsys.readouterr().err


# ---------------------------------------------------------------- 13. admins giving themselves call access


def test_an_admin_giving_themselves_call_access_is_an_alert_on_top_of_the_audit_view(c: TestClient) -> None:
    ada = as_user(c, "ada", "admin")
    assert c.get("/calls", headers=ada).status_code == 403
    assert c.put("/users/ada/roles", json={"roles": ["admin", "supervisor"]}, headers=ada).status_code == 200
    assert c.post("/keys", json={"scopes": ["read"], "name": "mine"}, headers=ada).status_code == 201
    add_user(c, "sam", "supervisor")  # giving someone else a role is ordinary work: no alert
    alerts = c.get("/audit", params={"action": "alert.*"}).json()
    assert [(x["user"], x["action"]) for x in alerts] == [
        ("ada", "alert.read_key"),
        ("ada", "alert.self_grant"),
    ]
    assert "ada gave themselves call access: roles supervisor" in alerts[1]["target"]
    assert c.get("/audit", params={"limit": 1}).json()[0]["action"] == "user.add"  # sam's, newest


def test_alerts_head_the_cli_audit(capsys, tmp_path: Path) -> None:  # noqa: ANN001
    db = str(tmp_path / "cli.duckdb")
    con = storage.open_db(db)
    accounts.add_user(con, "ada", ["admin"], PASSWORD, by="t")
    accounts.set_roles(con, "ada", ["admin", "agent"], by="ada")
    for n in range(30):
        storage.add_audit(con, "kim", "article.update", f"a{n}")
    con.close()
    assert main(["audit", "--limit", "3", "--db", db]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ALERTS") and "alert.self_grant" in out[1] and "roles agent" in out[1]


def test_the_console_audit_view_pages_shows_the_total_and_the_alerts(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from console_backends import RealService
    from streamlit.testing.v1 import AppTest

    import console

    service = RealService(tmp_path, monkeypatch)
    console.set_client(service.client)
    try:
        con = service.server.config.app.state.hub.cursor()
        accounts.add_user(con, "ada", ["admin"], PASSWORD, by="t")
        accounts.set_roles(con, "ada", ["admin", "supervisor"], by="ada")
        for n in range(120):
            storage.add_audit(con, "kim", "article.update", f"a{n:03d}")
        total = con.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        at = AppTest.from_file(
            str(Path(__file__).resolve().parent.parent / "console/pages/admin.py"), default_timeout=60
        )
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("alert" in w.value for w in at.warning)
        assert any("ada gave themselves call access" in m.value for m in at.markdown)
        assert f"Lines 1-50 of {total}, newest first" in [x.value for x in at.caption]
        first = at.table[-1].value
        assert list(first["Target"])[:2] == ["a119", "a118"]
        older = next(b for b in at.button if b.label == "Older lines")
        older.click().run()
        assert f"Lines 51-100 of {total}, newest first" in [x.value for x in at.caption]
        assert list(at.table[-1].value["Target"])[0] == "a069"
        at.text_input(key="audit_action").input("user.*").run()
        assert "Lines 1-2 of 2, newest first" in [x.value for x in at.caption]
    finally:
        service.close()
        console.set_client(None)


def test_the_alert_is_also_logged(con, caplog) -> None:  # noqa: ANN001
    accounts.add_user(con, "ada", ["admin"], PASSWORD, by="t")
    with caplog.at_level("WARNING", logger="assistant.audit"):
        accounts.set_roles(con, "ada", ["admin", "supervisor"], by="ada")
    assert "self_grant" in caplog.text
    with pytest.raises(InputError, match="no user"):
        accounts.set_roles(con, "nobody", ["agent"], by="ada")
