"""The service's knowledge and digest routes the console relies on: creating versus editing an
article, every change reaching live search at once, a day's digest built through the service, and
an outcome correction restated in the stored summary.

Search runs on a real index built by the service with a bag-of-words embedder (test_retrieval.py),
so "search finds it" means the index really changed.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from fakes import FakeEmbedder, FakeTranscriber
from fastapi.testclient import TestClient
from service_util import TEST_HOSTS, AuthedClient, hub, make_app, run_call, stop, twilio_messages, wait_for

from assistant import config
from assistant.calls.processor import CallOptions, CallProcessor
from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.service.app import ServiceOptions, create_app

REPO = Path(__file__).resolve().parent.parent
PARKING = {
    "id": "parking-permit-move",
    "title": "Update a parking permit after a move",
    "program": "Parking",
    "status": "published",
    "questions": ["my parking permit shows my old address"],
    "body": "Send the new lease with form PP-2; the permit is updated within 3 days.",
}


@pytest.fixture
def kb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A knowledge base of its own (a copy of the sample's voting articles)."""
    folder = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge_base" / "voting", folder / "voting")
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(folder))
    config.reset()
    return folder


@pytest.fixture
def searching(tmp_path: Path, kb: Path):  # noqa: ANN201
    """The service with a real index (built on first use from `kb`) and the bag-of-words embedder."""
    processor = CallProcessor(CallOptions(), transcriber=FakeTranscriber(), embedder=FakeEmbedder())
    opts = ServiceOptions(db=str(tmp_path / "svc.duckdb"), live=LiveOptions(), allowed_hosts=TEST_HOSTS)
    with AuthedClient(create_app(processor=processor, options=opts, catalog=ArticleCatalog.load())) as c:
        yield c


def top_ids(c: TestClient, text: str) -> list[str]:
    found = c.post("/search", json={"text": text, "k": 3}).json()
    return [] if found["abstained"] else [h["id"] for h in found["hits"]]


def test_creating_an_existing_id_is_refused_and_the_article_kept(searching: TestClient, kb: Path) -> None:
    path = kb / "voting" / "vote-register.md"
    before = path.read_text()
    taken = {**PARKING, "id": "vote-register", "status": "draft"}
    refused = searching.post("/articles", json=taken)
    assert refused.status_code == 409
    assert refused.json()["detail"][0]["field"] == "id"
    assert "already exists" in refused.json()["detail"][0]["message"]
    assert path.read_text() == before and not (kb / "vote-register.md").exists()
    listed = {a["id"]: a for a in searching.get("/articles").json()}
    assert listed["vote-register"]["status"] == "published"


def test_create_then_edit_explicitly(searching: TestClient, kb: Path) -> None:
    missing = searching.put("/articles/parking-permit-move", json=PARKING)
    assert missing.status_code == 404 and "POST /articles" in missing.json()["detail"]
    assert not (kb / "parking-permit-move.md").exists()
    created = searching.post("/articles", json=PARKING)
    assert created.status_code == 201 and created.json()["title"] == PARKING["title"]
    edited = searching.put(
        "/articles/parking-permit-move", json={**PARKING, "title": "Parking permit: new address"}
    )
    assert edited.status_code == 200 and edited.json()["title"] == "Parking permit: new address"
    assert "Parking permit: new address" in (kb / "parking-permit-move.md").read_text()
    bad = searching.post("/articles", json={**PARKING, "id": ""})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "id"


def test_saving_publishing_and_retiring_change_live_search_at_once(searching: TestClient) -> None:
    question = "my parking permit shows my old address"
    assert "parking-permit-move" not in top_ids(searching, question)
    created = searching.post("/articles", json=PARKING)
    assert created.status_code == 201 and created.json()["status"] == "draft"  # a draft until published
    assert "parking-permit-move" not in top_ids(searching, question)
    assert (
        searching.post("/articles/parking-permit-move/status", json={"status": "published"}).status_code
        == 200
    )
    assert top_ids(searching, question)[0] == "parking-permit-move"
    assert "parking-permit-move" in hub(searching).catalog.by_id  # what live suggestions read
    retired = searching.post("/articles/parking-permit-move/status", json={"status": "retired"})
    assert retired.status_code == 200
    assert "parking-permit-move" not in top_ids(searching, question)
    assert "parking-permit-move" not in hub(searching).catalog.by_id
    searching.post("/articles/parking-permit-move/status", json={"status": "published"})
    assert top_ids(searching, question)[0] == "parking-permit-move"
    edited = {**PARKING, "questions": ["where do I renew a boat registration"], "body": "Renew boats online."}
    saved = searching.put("/articles/parking-permit-move", json=edited).json()
    assert (
        saved["status"] == "published" and saved["pending_draft"]["article"]["body"] == "Renew boats online."
    )
    assert top_ids(searching, question)[0] == "parking-permit-move"  # the published text answers meanwhile
    searching.post("/articles/parking-permit-move/status", json={"status": "published"})
    assert top_ids(searching, "where do I renew a boat registration")[0] == "parking-permit-move"
    listed = {a["id"]: a for a in searching.get("/articles").json()}
    assert listed["parking-permit-move"]["pending_draft"] is None


def test_rebuild_reloads_articles_changed_on_disk(searching: TestClient, kb: Path) -> None:
    assert top_ids(searching, "how do I register to vote")  # the index is loaded
    text = (kb / "voting" / "vote-register.md").read_text()
    (kb / "voting" / "vote-register.md").write_text(text.replace("status: published", "status: retired"))
    assert "vote-register" in hub(searching).catalog.by_id
    report = searching.post("/index/rebuild").json()
    assert report["removed"] == 1
    assert "vote-register" not in hub(searching).catalog.by_id
    assert "vote-register" not in top_ids(searching, "how do I register to vote")


def test_outcome_change_restates_the_stored_summary(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path)) as c:
        run_call(c, twilio_messages())
        assert hub(c).drain(30)
        before = c.get("/calls/CA1").json()["summary"]
        assert "Outcome: " in before["text"]
        assert c.post("/calls/CA1/outcome", json={"outcome": "follow-up"}).status_code == 200
        after = c.get("/calls/CA1").json()
        assert after["outcome"] == "follow-up" and after["summary"]["outcome"] == "follow-up"
        assert "Outcome: follow-up." in after["summary"]["text"]
        assert after["summary"]["text"].count("Outcome:") == 1


def test_outcome_set_during_a_call_is_in_its_stored_summary(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path)) as c:
        with c.websocket_connect("/media") as ws:
            for m in twilio_messages():
                ws.send_text(m)
            wait_for(lambda: hub(c).calls.get("CA1"))
            live = c.post("/calls/CA1/outcome", json={"outcome": "transferred"}).json()
            assert live["status"] == "live"
            ws.send_text(stop())
        assert hub(c).drain(30)
        detail = wait_for(lambda: (d := c.get("/calls/CA1").json()).get("status") == "complete" and d)
        assert detail["outcome"] == "transferred" and detail["summary"]["outcome"] == "transferred"
        assert "Outcome: transferred." in detail["summary"]["text"]


def test_with_outcome_adds_the_sentence_when_missing() -> None:
    from assistant.text.summary import restate_outcome

    assert restate_outcome("Caller's reason: a bill. Outcome: resolved. Language: en.", "transferred") == (
        "Caller's reason: a bill. Outcome: transferred. Language: en."
    )
    assert restate_outcome("Caller asked about a bill.", "follow-up") == (
        "Caller asked about a bill. Outcome: follow-up."
    )


def test_build_a_days_digest_through_the_service(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path)) as c:
        run_call(c, twilio_messages())
        assert hub(c).drain(30)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        assert c.get(f"/digests/{today}").status_code == 404
        built = c.post(f"/digests/{today}")
        assert built.status_code == 200, built.text
        assert built.json()["date"] == today and built.json()["total_calls"] == 1
        assert c.get(f"/digests/{today}").json() == built.json()
        assert c.post(f"/digests/{today}").json()["total_calls"] == 1  # a rebuild replaces it
        assert today in c.get("/digests").json()
        bad = c.post("/digests/yesterday")
        assert bad.status_code == 400 and "not a date" in bad.json()["detail"]
        future = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=3)).isoformat()
        assert c.post(f"/digests/{future}").status_code == 400
