"""Who may do what through the service (ARCHITECTURE invariant 7): the policy table covers every
route and socket, each role's doors, agents' own calls, Host and Origin checks, sign-in with
lock-out, the audit log of views, exports and article changes, and owner-only files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_util import (
    AuthedClient,
    as_key,
    as_user,
    hub,
    make_app,
    run_call,
    store_digest,
    twilio_messages,
)
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from assistant import config, storage
from assistant.service.policy import POLICY

REPO = Path(__file__).resolve().parent.parent
ARTICLE = {
    "id": "x-1",
    "title": "Pay a bill",
    "body": "Pay online at the city website.",
    "status": "published",
}


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge_base", folder)
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(folder))
    config.reset()
    return folder


@pytest.fixture
def c(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path)) as client:
        yield client


def _keys(app) -> set[tuple[str, str]]:  # noqa: ANN001
    found = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            found.add(("WS", route.path))
        elif isinstance(route, Route):
            found.update((m, route.path) for m in route.methods or () if m != "HEAD")
    return found


def test_every_route_and_socket_is_in_the_policy_table_and_nothing_else(tmp_path: Path) -> None:
    routes = _keys(make_app(tmp_path))
    assert routes - set(POLICY) == set(), "routes missing from service/policy.py"
    assert set(POLICY) - routes == set(), "policy entries for routes that do not exist"


def test_a_route_missing_from_the_table_is_refused(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    @app.get("/forgotten")
    def forgotten() -> dict:
        return {"open": True}

    with AuthedClient(app) as c:
        answer = c.get("/forgotten")
    assert answer.status_code == 403 and "not in the access policy" in answer.json()["detail"]


def test_no_one_gets_nothing_but_health_and_sign_in(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path)) as anon:
        assert anon.get("/health").json() == {"status": "ok"}
        for method, path in [("GET", "/calls"), ("GET", "/openapi.json"), ("GET", "/docs"),
                             ("GET", "/articles"), ("POST", "/search"), ("GET", "/audit")]:  # fmt: skip
            answer = anon.request(method, path)
            assert answer.status_code == 401, path
            assert answer.headers["www-authenticate"] == "Bearer"
        with pytest.raises(WebSocketDisconnect) as closed, anon.websocket_connect("/media") as ws:
            ws.receive_text()
        assert closed.value.code == 1008
        assert anon.post("/auth/sign-in", json={"name": "x", "password": "y" * 12}).status_code == 401


def test_docs_follow_the_same_rules(c: TestClient) -> None:
    agent = as_user(c, "ana", "agent")
    assert c.get("/openapi.json", headers=agent).status_code == 200
    assert c.get("/docs", headers=agent).status_code == 200
    assert c.get("/openapi.json", headers={"Authorization": "Bearer st_nothing"}).status_code == 401


def _two_agents_calls(c: TestClient) -> None:
    assert run_call(c, twilio_messages("CA-ana", agent="ana")) == 1000
    assert run_call(c, twilio_messages("CA-bob", agent="bob")) == 1000
    assert hub(c).drain(30)


def test_an_agent_sees_only_their_own_calls(c: TestClient) -> None:
    _two_agents_calls(c)
    ana = as_user(c, "ana", "agent")
    assert [r["call_id"] for r in c.get("/calls", headers=ana).json()] == ["CA-ana"]
    assert c.get("/calls/CA-ana", headers=ana).status_code == 200
    assert c.get("/calls/CA-ana/events", headers=ana).status_code == 200
    for path in ("/calls/CA-bob", "/calls/CA-bob/events"):
        assert c.get(path, headers=ana).status_code == 404, path  # as if it did not exist
    for action, body in (("feedback", {"suggestion_id": "CA-bob:0", "kind": "helpful"}),
                         ("outcome", {"outcome": "resolved"}), ("language", {"language": "es"})):  # fmt: skip
        assert c.post(f"/calls/CA-bob/{action}", json=body, headers=ana).status_code == 404, action
    assert c.post("/calls/CA-ana/outcome", json={"outcome": "resolved"}, headers=ana).status_code == 200
    assert c.get("/calls/CA-ana", headers=ana).json()["outcome"] == "resolved"
    viewed = {
        x["target"] for x in c.get("/audit").json() if x["user"] == "ana" and x["action"] == "call.view"
    }
    assert viewed == {"CA-ana"}  # a refused look at another's call is no view


def test_an_agent_cannot_publish_or_edit_articles_or_read_digests(c: TestClient, kb: Path) -> None:
    agent = as_user(c, "ana", "agent")
    assert c.post("/articles", json=ARTICLE, headers=agent).status_code == 403
    assert c.put("/articles/pt-pay-bill", json={"title": "x"}, headers=agent).status_code == 403
    published = c.post("/articles/pt-pay-bill/status", json={"status": "retired"}, headers=agent)
    assert published.status_code == 403 and "ana may not use" in published.json()["detail"]
    assert c.get("/digests", headers=agent).status_code == 403
    assert c.get("/users", headers=agent).status_code == 403
    assert c.get("/articles", headers=agent).status_code == 200
    assert c.post("/search", json={"text": "pay my property tax bill"}, headers=agent).status_code == 200


def test_a_knowledge_manager_cannot_read_calls(c: TestClient, kb: Path) -> None:
    _two_agents_calls(c)
    km = as_user(c, "kim", "knowledge_manager")
    for path in ("/calls", "/calls/CA-ana", "/calls/CA-ana/events", "/digests"):
        assert c.get(path, headers=km).status_code == 403, path
    assert c.post("/articles", json=ARTICLE, headers=km).status_code == 201
    assert c.get("/gaps", headers=km).status_code == 200


def test_a_supervisor_reads_all_calls_and_digests_but_not_articles_or_users(c: TestClient, kb: Path) -> None:
    _two_agents_calls(c)
    store_digest(c)
    sup = as_user(c, "sam", "supervisor")
    assert {r["call_id"] for r in c.get("/calls", headers=sup).json()} == {"CA-ana", "CA-bob"}
    assert c.get("/calls/CA-bob", headers=sup).status_code == 200
    assert c.get("/digests", headers=sup).json() == ["2026-03-02"]
    assert c.get("/digests/2026-03-02", headers=sup).status_code == 200
    assert c.get("/digests/2026-03-02/export", headers=sup).status_code == 200
    assert c.post("/articles", json=ARTICLE, headers=sup).status_code == 403
    assert c.get("/users", headers=sup).status_code == 403


def test_admin_manages_people_and_keys_but_reads_no_calls(c: TestClient) -> None:
    _two_agents_calls(c)
    admin = as_user(c, "ada", "admin")
    assert c.get("/calls", headers=admin).status_code == 403
    made = c.post("/users", json={"name": "ana", "roles": ["agent"]}, headers=admin)
    assert made.status_code == 201 and len(made.json()["password"]) >= 12
    assert c.post("/users", json={"name": "x", "roles": ["boss"]}, headers=admin).status_code == 400
    key = c.post("/keys", json={"scopes": ["read"], "name": "reporting"}, headers=admin).json()
    assert key["key"].startswith("ak_")
    assert [k["name"] for k in c.get("/keys", headers=admin).json()] == ["local-admin", "reporting"]
    reader = {"Authorization": f"Bearer {key['key']}"}
    assert c.get("/calls", headers=reader).status_code == 200
    assert c.post("/calls/CA-ana/outcome", json={"outcome": "resolved"}, headers=reader).status_code == 403
    assert c.delete("/keys/reporting", headers=admin).status_code == 200
    assert c.get("/calls", headers=reader).status_code == 401
    assert c.delete("/calls/CA-bob", headers=admin).json() == {"call_id": "CA-bob", "deleted": True}
    assert c.delete("/calls/CA-bob", headers=admin).status_code == 400


def test_media_keys_open_sockets_only(c: TestClient) -> None:
    media = as_key(c, "media")
    c.headers.pop("Authorization")
    with c.websocket_connect("/media", headers=media) as ws:
        ws.send_text(twilio_messages()[0])
    assert c.get("/calls", headers=media).status_code == 403
    ana = as_user(c, "ana", "agent")
    with pytest.raises(WebSocketDisconnect) as closed, c.websocket_connect("/media", headers=ana) as ws:
        ws.receive_text()
    assert closed.value.code == 1008  # an agent's session is not a media key


def test_foreign_host_and_origin_are_refused(c: TestClient) -> None:
    assert c.get("/calls", headers={"Host": "evil.example"}).status_code == 403
    assert c.get("/health", headers={"Host": "evil.example:8700"}).status_code == 403
    assert c.get("/calls", headers={"Host": "localhost:8700"}).status_code == 200
    assert c.get("/calls", headers={"Origin": "http://evil.example"}).status_code == 403
    here = {"Host": "localhost:8700"}
    assert c.get("/calls", headers={**here, "Origin": "http://localhost:8700"}).status_code == 200
    assert c.get("/calls", headers={**here, "Origin": "http://127.0.0.1:8700"}).status_code == 200
    # A page served from another port of this machine is another site (the port used to be ignored).
    for origin in ("http://localhost:9999", "http://127.0.0.1:8501", "http://localhost", "null"):
        assert c.get("/calls", headers={**here, "Origin": origin}).status_code == 403, origin
    assert c.get("/calls", headers={"Origin": "http://testserver"}).status_code == 200
    assert c.get("/calls", headers={"Origin": "http://testserver:8080"}).status_code == 403
    for headers in (
        {"Origin": "http://evil.example"},
        {"Host": "rebind.evil.example"},
        {**here, "Origin": "http://localhost:8501"},
    ):
        with (
            pytest.raises(WebSocketDisconnect) as closed,
            c.websocket_connect("/media", headers=headers) as ws,
        ):
            ws.receive_text()
        assert closed.value.code == 1008
    with c.websocket_connect("/media", headers={**here, "Origin": "http://localhost:8700"}) as ws:
        ws.send_text(twilio_messages()[0])


def test_sign_in_and_lock_out_through_the_api(c: TestClient) -> None:
    c.post("/users", json={"name": "ana", "roles": ["agent"], "password": "correct horse battery"})
    c.headers.pop("Authorization")
    for _ in range(5):
        wrong = c.post("/auth/sign-in", json={"name": "ana", "password": "wrong password!"})
        assert wrong.status_code == 401 and wrong.json()["detail"] == "wrong user name or password"
    locked = c.post("/auth/sign-in", json={"name": "ana", "password": "correct horse battery"})
    assert locked.status_code == 401 and "locked for your address" in locked.json()["detail"]


def test_sign_in_session_and_sign_out(c: TestClient) -> None:
    c.post(
        "/users", json={"name": "ana", "roles": ["agent", "supervisor"], "password": "correct horse battery"}
    )
    c.headers.pop("Authorization")
    session = c.post("/auth/sign-in", json={"name": "ana", "password": "correct horse battery"}).json()
    me = {"Authorization": f"Bearer {session['token']}"}
    assert session["roles"] == ["agent", "supervisor"]
    assert c.get("/auth/me", headers=me).json()["roles"] == ["agent", "supervisor"]
    assert c.post("/auth/sign-out", headers=me).status_code == 200
    assert c.get("/auth/me", headers=me).status_code == 401


def test_views_exports_and_article_changes_are_audited(c: TestClient, kb: Path) -> None:
    _two_agents_calls(c)
    store_digest(c)
    sam, kim = as_user(c, "sam", "supervisor"), as_user(c, "kim", "knowledge_manager")
    c.get("/calls/CA-ana", headers=sam)
    c.get("/calls/CA-bob/events", headers=sam)
    c.get("/calls/CA-bob/events", params={"cursor": 5}, headers=sam)  # a later page: not a new view
    c.get("/digests/2026-03-02/export", params={"format": "csv"}, headers=sam)
    c.post("/articles", json=ARTICLE, headers=kim)
    c.put("/articles/x-1", json={**ARTICLE, "title": "Pay a bill online"}, headers=kim)
    c.post("/articles/x-1/status", json={"status": "retired"}, headers=kim)
    lines = c.get("/audit").json()[::-1]  # newest first: turned back to the order of events
    got = [(x["user"], x["action"], x["target"]) for x in lines if x["user"] in ("sam", "kim")]
    assert got == [
        ("sam", "call.view", "CA-ana"),
        ("sam", "call.view", "CA-bob"),
        ("sam", "digest.export", "2026-03-02 csv"),
        ("kim", "article.create", "x-1"),
        ("kim", "article.update", "x-1"),
        ("kim", "article.retire", "x-1"),
    ]
    assert all(x["at"].endswith("+00:00") for x in lines)
    assert [x["user"] for x in c.get("/audit", params={"user": "kim"}).json()] == ["kim"] * 3
    assert c.get("/audit", params={"since": "soon"}).status_code == 400


def test_the_database_file_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "svc.duckdb"
    storage.open_db(db).close()  # made by another process with the usual umask
    db.chmod(0o644)
    with AuthedClient(make_app(tmp_path)):
        assert db.stat().st_mode & 0o777 == 0o600


def test_bad_agent_name_in_a_stream_start_closes_it(c: TestClient) -> None:
    msgs = twilio_messages("CA-x", agent="bad agent!")
    with c.websocket_connect("/media") as ws:
        for m in msgs[:2]:
            ws.send_text(m)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1008 and "agent name" in closed.value.reason


def test_a_draft_is_published_by_another_knowledge_manager_where_configured(
    c: TestClient, kb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSISTANT_PUBLISH_NEEDS_SECOND_REVIEWER", "1")
    config.reset()
    kim, kai = as_user(c, "kim", "knowledge_manager"), as_user(c, "kai", "knowledge_manager")
    assert c.post("/articles", json=ARTICLE, headers=kim).json()["status"] == "draft"
    own = c.post("/articles/x-1/status", json={"status": "published"}, headers=kim)
    assert own.status_code == 403 and "another knowledge manager" in own.json()["detail"]
    assert (
        c.post("/articles/x-1/status", json={"status": "published"}, headers=kai).json()["status"]
        == "published"
    )
    edit = {**ARTICLE, "body": "Pay online, by phone or in person."}
    assert c.put("/articles/x-1", json=edit, headers=kai).json()["pending_draft"]["author"] == "kai"
    assert c.post("/articles/x-1/status", json={"status": "published"}, headers=kai).status_code == 403
    assert c.post("/articles/x-1/status", json={"status": "published"}, headers=kim).status_code == 200
    history = c.get("/articles/x-1/history", headers=kim).json()
    assert [(h["user"], h["action"]) for h in history] == [
        ("kim", "draft"), ("kai", "publish"), ("kai", "draft"), ("kim", "publish"),
    ]  # fmt: skip
    assert all(h["at"].endswith("+00:00") for h in history)
    assert c.get("/articles/x-1/history", headers=as_user(c, "ana", "agent")).status_code == 403
    assert c.post("/articles/nope/status", json={"status": "published"}, headers=kim).status_code == 404
    assert c.post("/articles/x-1/status", json={"status": "gone"}, headers=kim).status_code == 400


def test_retiring_discards_a_pending_draft(c: TestClient, kb: Path) -> None:
    kim = as_user(c, "kim", "knowledge_manager")
    c.put("/articles/pt-pay-bill", json={"id": "pt-pay-bill", "title": "New title", "body": "x"}, headers=kim)
    assert c.post("/articles/pt-pay-bill/status", json={"status": "retired"}, headers=kim).status_code == 200
    listed = {a["id"]: a for a in c.get("/articles", headers=kim).json()}
    assert listed["pt-pay-bill"]["status"] == "retired" and listed["pt-pay-bill"]["pending_draft"] is None
    assert [h["action"] for h in c.get("/articles/pt-pay-bill/history", headers=kim).json()] == [
        "draft", "discard", "retire",
    ]  # fmt: skip
