"""ServiceClient against the real app (fake engines) through httpx's ASGI-free test transport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from service_util import TEST_HOSTS, AuthedClient, make_app, run_call, store_digest, twilio_messages

from assistant.errors import InputError
from assistant.service.client import ServiceClient, ServiceUnavailable


class AppTransport(httpx.BaseTransport):
    """Routes the client's requests into a TestClient (which runs the app's lifespan)."""

    def __init__(self, tc: TestClient) -> None:
        self.tc = tc

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r = self.tc.request(
            request.method,
            request.url.path,
            params=request.url.params,
            content=request.content,
            headers=dict(request.headers),
        )
        return httpx.Response(r.status_code, headers=r.headers, content=r.content)


HOSTS = (*TEST_HOSTS, "svc")


@pytest.fixture
def pair(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path, allowed_hosts=HOSTS)) as tc:
        key = tc.headers["Authorization"].removeprefix("Bearer ")
        yield tc, ServiceClient("http://svc", token=key, transport=AppTransport(tc))


def test_calls_events_feedback(pair) -> None:  # noqa: ANN001
    tc, client = pair
    with tc.websocket_connect("/media") as ws:
        for m in twilio_messages():
            ws.send_text(m)
        ws.send_text('{"event": "stop"}')
    assert tc.app.state.hub.drain(30)
    assert client.health()["status"] == "ok"
    rows = client.list_calls(active=False)
    assert rows[0]["call_id"] == "CA1" and rows[0]["status"] == "complete"
    events, cursor = client.events("CA1", 0)
    assert cursor == len(events) and client.events("CA1", cursor) == ([], cursor)
    call = client.get_call("CA1")
    sid = call["suggestions"][0]["suggestion_id"]
    assert client.feedback("CA1", sid, "used")["kind"] == "used"
    assert client.set_outcome("CA1", "follow-up")["outcome"] == "follow-up"
    assert client.set_language("CA1", "en")["language"] == "en"
    with pytest.raises(InputError, match="unknown feedback kind"):
        client.feedback("CA1", sid, "wow")
    with pytest.raises(InputError, match="no call"):
        client.get_call("missing")


def test_knowledge_and_digests(pair) -> None:  # noqa: ANN001
    _, client = pair
    assert client.search("pay my property tax bill")["hits"][0]["id"] == "pt-pay-bill"
    assert client.knowledge_gaps() == []
    assert client.digest_dates() == [] and client.digest("2024-01-01") is None
    with pytest.raises(InputError, match="empty query"):
        client.search("  ")


def test_digest_export(pair) -> None:  # noqa: ANN001
    from assistant.digest.render import export

    tc, client = pair
    digest = store_digest(tc)
    assert client.digest_export("2026-03-02") == export(digest, "markdown").text
    assert client.digest_export("2026-03-02", "csv") == export(digest, "csv").text
    with pytest.raises(InputError, match="unknown digest export format 'xlsx'"):
        client.digest_export("2026-03-02", "xlsx")
    with pytest.raises(InputError, match="^no digest for 2024-01-01"):
        client.digest_export("2024-01-01")


def test_article_validation_error_names_field(pair, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from assistant import config

    (tmp_path / "kb").mkdir()
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(tmp_path / "kb"))
    config.reset()
    _, client = pair
    with pytest.raises(InputError, match="^status: "):
        client.create_article({"id": "x-1", "title": "T", "status": "pending", "body": "b"})
    assert list((tmp_path / "kb").iterdir()) == []
    with pytest.raises(InputError, match="no article 'x-1'"):
        client.save_article({"id": "x-1", "title": "T", "body": "Pay online."})  # an edit needs an article
    saved = client.create_article({"id": "x-1", "title": "T", "body": "Pay online."})
    assert saved["id"] == "x-1" and client.articles()[0]["id"] == "x-1"
    with pytest.raises(InputError, match="^id: an article with id 'x-1' already exists"):
        client.create_article({"id": "x-1", "title": "Other", "body": "Other text."})
    assert client.articles()[0]["title"] == "T"
    assert client.save_article({"id": "x-1", "title": "T2", "body": "Pay online."})["title"] == "T2"
    assert client.set_article_status("x-1", "retired")["status"] == "retired"
    with pytest.raises(InputError, match="id"):
        client.save_article({"title": "no id"})
    with pytest.raises(InputError, match="id"):
        client.create_article({"title": "no id"})


def test_fake_and_real_client_agree_on_shapes(pair, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The console's FakeClient returns what the service returns (same keys), for the calls the
    Knowledge and Daily digest pages make."""
    import datetime as dt
    import sys

    from assistant import config

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from assistant.service.fake_client import FakeClient

    (tmp_path / "kb").mkdir()
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(tmp_path / "kb"))
    config.reset()
    tc, real = pair
    fake = FakeClient()
    article = {"id": "x-2", "title": "T", "body": "Pay online.", "status": "published"}
    assert set(real.create_article(article)) == set(fake.create_article(article))
    assert set(real.save_article(article)) == set(fake.save_article(article))
    assert set(real.set_article_status("x-2", "draft")) == set(fake.set_article_status("x-2", "draft"))
    assert set(real.rebuild_index()) == set(fake.rebuild_index())
    today = dt.datetime.now(dt.UTC).date().isoformat()
    built, sample = real.build_digest(today), fake.build_digest("2026-02-16")
    assert set(built) == set(sample)
    assert real.digest(today) == built
    with tc.websocket_connect("/media") as ws:
        for m in twilio_messages():
            ws.send_text(m)
        ws.send_text('{"event": "stop"}')
    assert tc.app.state.hub.drain(30)
    assert set(real.set_outcome("CA1", "follow-up")) == set(
        fake.set_outcome("call-mar02-0915-a1", "follow-up")
    )


def test_wrong_token_and_unreachable_service(tmp_path: Path) -> None:
    app = make_app(tmp_path, api_token="tok", allowed_hosts=HOSTS)
    with TestClient(app) as tc, pytest.raises(InputError, match="refused"):
        ServiceClient("http://svc", token="bad", transport=AppTransport(tc)).health()
    with pytest.raises(ServiceUnavailable, match="cannot be reached"):
        ServiceClient("http://127.0.0.1:9", timeout=0.5).health()


def test_demo_call_errors_are_input_errors(pair) -> None:  # noqa: ANN001
    _, client = pair
    with pytest.raises(InputError, match="no bundled sample"):
        client.start_demo_call("nope.wav")
    _ = run_call
