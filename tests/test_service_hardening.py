"""The service against hostile input and faults (issue 16): lone surrogates, body size, a truncated
database, paging, ids with '/', empty streams, silent sockets, flooding callers.

Engines are the fakes of test_live.py, the app is driven through its ASGI test client.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest
from fakes import fake_processor
from fastapi.testclient import TestClient
from service_util import AuthedClient, closes, hub, make_app, stop, twilio_messages
from starlette.websockets import WebSocketDisconnect

from assistant import config, storage
from assistant.live.session import Job
from assistant.service.client import ServiceClient
from assistant.service.hub import CallHub
from assistant.service.media import Limits, pace_delay
from assistant.storage import CallRecord, UtteranceRecord

REPO = Path(__file__).resolve().parent.parent
BAD = "T\ud800"


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path)) as c:
        yield c


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge_base" / "voting", folder / "voting")
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(folder))
    monkeypatch.setenv("ASSISTANT_INDEX_DIR", str(tmp_path / "index"))
    config.reset()
    yield folder
    config.reset()


def put_json(c: TestClient, path: str, data: object, method: str = "POST") -> httpx.Response:
    """Send JSON that holds a lone surrogate (httpx's own encoder cannot: it writes UTF-8)."""
    body = json.dumps(data).encode("ascii")  # \ud800 stays an escape, as a hostile client sends it
    return c.request(method, path, content=body, headers={"content-type": "application/json"})


def text_call(call_id: str, minutes: int = 0) -> CallRecord:
    return CallRecord(
        call_id=call_id,
        started_at=datetime(2026, 11, 20, 9, tzinfo=UTC) + timedelta(minutes=minutes),
        channel="chat",
        source="test",
        language="en",
        language_probability=1.0,
        duration=1.0,
        outcome="resolved",
        status="complete",
        utterances=(UtteranceRecord("caller", 0.0, 1.0, "hello " * 40, "en"),),
    )


# -- lone surrogates -------------------------------------------------------------------------------


def test_surrogate_article_title_is_refused_and_not_written(client: TestClient, kb: Path) -> None:
    article = next(a for a in client.get("/articles").json() if a["id"] == "vote-register")
    before = (kb / "voting" / "vote-register.md").read_text()
    answer = put_json(client, "/articles/vote-new", {**article, "id": "vote-new", "title": BAD}, "PUT")
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["field"] == "title"
    assert "invalid character" in answer.json()["detail"][0]["message"]
    assert not list(kb.rglob("vote-new*"))
    assert (kb / "voting" / "vote-register.md").read_text() == before
    assert client.get("/articles").status_code == 200


def test_bad_article_file_on_disk_is_skipped_and_reported(client: TestClient, kb: Path) -> None:
    # What the old service wrote: YAML escapes the surrogate, so the file reads back with it.
    (kb / "voting" / "bad.md").write_text('---\nid: bad\ntitle: "T\\uD800"\n---\nBody.\n')
    listed = client.get("/articles")
    assert listed.status_code == 200 and "bad" not in {a["id"] for a in listed.json()}
    assert client.post("/articles/vote-register/status", json={"status": "draft"}).status_code == 200
    rebuilt = client.post("/index/rebuild")
    assert rebuilt.status_code == 200 and rebuilt.json()["problems"] == 1


def test_surrogates_in_feedback_search_and_outcome_are_422(client: TestClient) -> None:
    for path, body, field in (
        ("/search", {"text": BAD}, "text"),
        ("/calls/c1/feedback", {"suggestion_id": "c1:0", "kind": "helpful", "comment": BAD}, "comment"),
        ("/calls/c1/feedback", {"suggestion_id": BAD, "kind": "helpful"}, "suggestion_id"),
        ("/calls/c1/outcome", {"outcome": BAD}, "outcome"),
    ):
        answer = put_json(client, path, body)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.json()["detail"][0]["field"] == field


def test_surrogate_call_id_on_the_socket_closes_with_a_reason(client: TestClient, caplog) -> None:  # noqa: ANN001
    start = json.loads(twilio_messages()[1])
    start["start"]["callSid"] = BAD
    closed = closes(client, [json.dumps(start)])
    assert closed.code == 1008 and "invalid character" in closed.reason
    assert not hub(client).calls and "Traceback" not in caplog.text


# -- body size -------------------------------------------------------------------------------------


def test_request_body_over_the_limit_is_413(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path, max_body_bytes=10_000)) as c:
        big = {"suggestion_id": "c1:0", "kind": "helpful", "comment": "x" * 20_000}
        answer = c.post("/calls/c1/feedback", json=big)
        assert answer.status_code == 413 and "max_body_bytes" in answer.json()["detail"]

        def chunks():  # noqa: ANN202 - no Content-Length: the limit holds for a streamed body too
            for _ in range(20):
                yield b"x" * 1000

        streamed = c.post("/search", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert c.post("/search", json={"text": "hello"}).status_code != 413


# -- health ----------------------------------------------------------------------------------------


def test_health_is_503_on_a_truncated_database(tmp_path: Path) -> None:
    import os

    db = tmp_path / "svc.duckdb"
    con = storage.open_db(db)
    for n in range(300):
        storage.save_call(con, text_call(f"c{n}", n))
    con.execute("CHECKPOINT")
    con.close()
    with AuthedClient(make_app(tmp_path)) as c:
        assert c.get("/health").status_code == 200
    os.truncate(db, db.stat().st_size // 2)
    # The legacy shared token names a key without reading the (broken) database.
    with TestClient(make_app(tmp_path, api_token="t"), headers={"Authorization": "Bearer t"}) as c:
        answer = c.get("/health")
        assert answer.status_code == 503
        body = answer.json()
        assert body["database"]["ok"] is False and "truncated" in body["database"]["error"]
        broken = c.get("/calls/c5")  # its utterances were in the lost half of the file
        assert broken.status_code == 503 and "database" in broken.json()["detail"]


# -- paging and ids with '/' -----------------------------------------------------------------------


def test_calls_page_with_a_cursor(client: TestClient) -> None:
    for n in range(7):
        storage.save_call(hub(client).cursor(), text_call(f"c{n}", n))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        answer = client.get("/calls", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200
        seen += [r["call_id"] for r in answer.json()]
        pages += 1
        cursor = answer.headers.get("x-next-cursor")
        if not cursor:
            break
    assert pages == 3 and seen == [f"c{n}" for n in range(6, -1, -1)]
    assert client.get("/calls", params={"cursor": "nonsense!"}).status_code == 400


def test_call_ids_with_a_slash_open_through_the_api(client: TestClient) -> None:
    storage.save_call(hub(client).cursor(), text_call("dept/42"))
    assert client.get("/calls/dept/42").json()["call_id"] == "dept/42"
    assert client.get("/calls/dept%2F42").json()["call_id"] == "dept/42"
    assert client.get("/calls/dept/42/events").json()["events"]
    assert client.post("/calls/dept/42/outcome", json={"outcome": "follow-up"}).status_code == 200


def test_client_percent_encodes_call_ids() -> None:
    paths: list[str] = []

    call = {"call_id": "dept/42", "started_at": None, "channel": "voice", "language": None, "duration": None,
            "outcome": "unknown", "status": "complete", "reason": None, "utterances": [], "suggestions": [],
            "feedback": [], "summary": {}}  # fmt: skip

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(request.url.raw_path.decode())
        events = request.url.path.endswith("/events")
        return httpx.Response(200, json={"events": [], "cursor": 0} if events else call)

    with ServiceClient("http://test", token="", transport=httpx.MockTransport(handler)) as c:
        c.get_call("dept/42")
        c.events("dept/42")
    assert paths[0] == "/calls/dept%2F42" and paths[1].startswith("/calls/dept%2F42/events")


# -- empty streams, silent sockets -----------------------------------------------------------------


def test_empty_or_malformed_stream_stores_no_call(client: TestClient) -> None:
    messages = twilio_messages("EMPTY")[:2]
    with client.websocket_connect("/media") as ws:
        for m in messages:
            ws.send_text(m)
        for _ in range(5):
            ws.send_text(json.dumps({"event": "media", "media": {"track": "inbound", "payload": "!!"}}))
        ws.send_text(stop())
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    assert hub(client).drain(30)
    assert storage.get_call(hub(client).cursor(), "EMPTY") is None
    events = client.get("/calls/EMPTY/events").json()["events"]
    assert events[-1]["data"]["stored"] is False and "not stored" in events[-1]["data"]["reason"]


def test_silent_sockets_are_closed_and_free_their_slots(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path / "a", limits=Limits(start_timeout=0.3, idle_timeout=60))) as c:
        closed = closes(c, [])
        assert closed.code == 1008 and "start timeout" in closed.reason
    limits = Limits(start_timeout=60, idle_timeout=0.5)
    with AuthedClient(make_app(tmp_path / "b", limits=limits, max_calls=4)) as c:
        reasons = [closes(c, twilio_messages(f"S{n}")[:2]).reason for n in range(4)]  # start, then nothing
        assert all("idle timeout" in r for r in reasons), reasons
        assert hub(c).drain(30) and not hub(c).calls
        closed = closes(c, [*twilio_messages("S5")[:2], stop()])  # a fifth call still gets a slot
        assert "too many" not in closed.reason
        assert c.get("/calls/S5/events").status_code == 200  # it was opened


# -- pacing and fairness ---------------------------------------------------------------------------


def test_audio_ahead_of_real_time_waits_beyond_the_slack() -> None:
    assert pace_delay(audio_seconds=4.0, elapsed=1.0, slack=5.0) == 0.0
    assert pace_delay(audio_seconds=60.0, elapsed=1.0, slack=5.0) == pytest.approx(54.0)
    assert pace_delay(audio_seconds=60.0, elapsed=1.0, slack=None) == 0.0


def test_a_call_far_ahead_of_real_time_is_held_back(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import asyncio

    from assistant.service.media import transport as service_media

    waits: list[float] = []

    async def record(delay: float) -> None:  # the wait itself is not what this test is about
        waits.append(delay)

    monkeypatch.setattr(service_media, "asyncio", SimpleNamespace(timeout=asyncio.timeout, sleep=record))
    monkeypatch.setattr(service_media, "time", SimpleNamespace(monotonic=lambda: 1000.0))  # a frozen clock
    import base64

    from assistant.speech.audio import encode_mulaw

    second = base64.b64encode(encode_mulaw(np.full(8000, 0.01, np.float32))).decode()
    media = json.dumps({"event": "media", "media": {"track": "inbound", "payload": second}})
    app = make_app(tmp_path, limits=Limits(realtime_slack=1.0))
    with AuthedClient(app) as c, c.websocket_connect("/media") as ws:
        for m in [*twilio_messages("FAST")[:2], *[media] * 8]:  # 8 s of audio in 1 s messages, at once
            ws.send_text(m)
        ws.send_text(stop())
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    # With the clock frozen, each second of audio past the 1 s slack is a second to wait.
    assert waits == pytest.approx([float(n) for n in range(1, 8)])


def test_model_worker_serves_calls_fairly(tmp_path: Path) -> None:
    h = CallHub(fake_processor(), str(tmp_path / "q.duckdb"))
    flood, other = SimpleNamespace(call_id="flood"), SimpleNamespace(call_id="other")
    audio = np.zeros(160, np.float32)
    for _ in range(50):
        h._submit(Job("final", flood, "caller", audio))  # type: ignore[arg-type]
    h._submit(Job("final", other, "caller", audio))  # type: ignore[arg-type]
    order = []
    for _ in range(51):
        order.append(h.next_job())
        h.done(order[-1])  # as a worker does after running it
    position = next(i for i, job in enumerate(order) if job is not None and job.call is other)
    assert position <= 2  # not behind the flooding call's 50 finals
    flood_jobs = [job for job in order if job is not None and job.call is flood]
    assert len(flood_jobs) == 50  # and the flooding call's own finals keep their order


def test_the_service_takes_timeouts_pacing_and_body_limit_from_its_settings(monkeypatch) -> None:  # noqa: ANN001
    from assistant.service.app import ServiceOptions

    monkeypatch.setenv("ASSISTANT_MEDIA_IDLE_TIMEOUT", "3")
    config.reset()
    opts = ServiceOptions.from_config()
    assert opts.limits.idle_timeout == 3.0 and opts.limits.start_timeout == 10.0
    assert opts.limits.realtime_slack == 5.0 and opts.max_body_bytes == 1_000_000
