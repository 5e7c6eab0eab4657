"""The service against its ASGI app: media sockets (Twilio and raw), faults, limits, the REST API.

Engines are fakes from tests/fakes.py (tone-coded speech); one `models` test streams the real
two-channel sample through real Whisper and MiniLM.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fakes import conversation
from fastapi.testclient import TestClient
from service_util import (
    TEST_HOSTS,
    AuthedClient,
    all_events,
    closes,
    hub,
    make_app,
    run_call,
    stop,
    store_digest,
    twilio_messages,
    wait_for,
)
from starlette.websockets import WebSocketDisconnect

from assistant import storage
from assistant.errors import ConfigError
from assistant.live.session import LiveOptions
from assistant.service.app import ServiceOptions, check_bind, create_app
from assistant.service.media import Limits

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path)) as c:
        yield c


def stored_with(h, call_id: str, n: int):  # noqa: ANN001, ANN201
    found = storage.get_call(h.cursor(), call_id)
    return found if found is not None and len(found.utterances) >= n else None


def check_call_stored(c: TestClient, call_id: str) -> dict:
    """A call these tests sent in one burst, far faster than real time. Whether a partial runs before
    its utterance has ended then depends on how the worker thread is scheduled (under load in CI the
    caller had none: the whole burst was read first), so partials are checked where audio comes at
    a live pace: test_sample_call_end_to_end_with_real_models here and tests/test_live.py."""
    events = all_events(c, call_id)
    captions = [e["data"] for e in events if e["type"] == "caption"]
    for speaker in ("agent", "caller"):
        assert any(x["speaker"] == speaker and x["final"] for x in captions), speaker
    assert any(e["type"] == "suggestion" and e["data"]["article_id"] == "pt-pay-bill" for e in events)
    assert events[-1]["type"] == "status" and events[-1]["data"]["state"] == "ended"
    assert any(e["type"] == "summary" for e in events)
    assert "4111" not in json.dumps(events)
    detail = c.get(f"/calls/{call_id}").json()
    assert detail["status"] == "complete" and detail["summary"] and len(detail["utterances"]) == 4
    assert "4111" not in json.dumps(detail)
    return detail


# -- the happy paths -------------------------------------------------------------------------------


def test_twilio_call_captions_suggestion_and_storage(client: TestClient) -> None:
    assert run_call(client, twilio_messages()) == 1000
    detail = check_call_stored(client, "CA1")
    sid = detail["suggestions"][0]["suggestion_id"]
    assert (
        client.post("/calls/CA1/feedback", json={"suggestion_id": sid, "kind": "helpful"}).status_code == 200
    )
    assert client.get("/calls/CA1").json()["feedback"][0]["kind"] == "helpful"
    rows = client.get("/calls", params={"active": False}).json()
    assert rows[0]["call_id"] == "CA1" and rows[0]["status"] == "complete"
    assert client.get("/calls", params={"active": True}).json() == []


def test_raw_stereo_call(client: TestClient) -> None:
    tracks = conversation(16000)
    stereo = np.stack([tracks["agent"], tracks["caller"]], axis=1)
    pcm = (stereo * 32767).astype("<i2")
    with client.websocket_connect("/media/raw?call_id=raw-1&channels=2") as ws:
        for pos in range(0, len(pcm), 320):
            ws.send_bytes(pcm[pos : pos + 320].tobytes())
        ws.send_text('{"event": "stop"}')
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    assert closed.value.code == 1000
    check_call_stored(client, "raw-1")


def test_events_cursor_pages(client: TestClient) -> None:
    run_call(client, twilio_messages())
    everything = all_events(client, "CA1")
    first = client.get("/calls/CA1/events", params={"cursor": 3}).json()
    assert first["events"] == everything[3:] and first["cursor"] == len(everything)
    assert client.get("/calls/CA1/events", params={"cursor": first["cursor"]}).json()["events"] == []
    assert client.get("/calls/nope/events").status_code == 404


# -- faults ----------------------------------------------------------------------------------------


def test_malformed_json_before_start_closes(client: TestClient) -> None:
    closed = closes(client, ["{not json"])
    assert closed.code == 1007 and "malformed JSON" in closed.reason


def test_media_before_start_closes(client: TestClient) -> None:
    closed = closes(client, twilio_messages()[:1] + twilio_messages()[2:3])
    assert closed.code == 1008 and "expected start" in closed.reason


def test_bad_frames_after_start_are_dropped_and_counted(client: TestClient) -> None:
    msgs = twilio_messages()
    bad = [
        "{not json",
        "[1, 2]",
        json.dumps({"event": "media", "media": {"track": "inbound", "payload": "%%%not-base64"}}),
        json.dumps({"event": "media", "media": {"track": "inbound", "payload": ""}}),
        json.dumps(
            {
                "event": "media",
                "media": {"track": "inbound", "payload": base64.b64encode(b"x" * 9000).decode()},
            }
        ),
        json.dumps({"event": "media", "media": {"track": "sideways", "payload": msgs[2][-20:]}}),
        json.dumps({"event": "dtmf", "dtmf": {"digit": "1"}}),  # unknown to us: ignored, not counted
        json.dumps({"event": "mark", "mark": {"name": "x"}}),
        msgs[1],  # a second start for the same stream: ignored
    ]
    assert run_call(client, msgs[:2] + bad + msgs[2:]) == 1000
    call = hub(client).get("CA1")
    assert call.rejected_frames == 7
    check_call_stored(client, "CA1")


def test_many_bad_frames_in_a_row_close(client: TestClient) -> None:
    closed = closes(client, twilio_messages()[:2] + ["{oops"] * 100)
    assert closed.code == 1007 and "malformed" in closed.reason


def test_vanished_client_keeps_what_was_heard(client: TestClient) -> None:
    msgs = twilio_messages()
    run_call(client, msgs[: len(msgs) * 2 // 3], end=False)  # leaves mid-call, no stop
    events = all_events(client, "CA1")
    assert events[-1]["data"]["state"] == "ended"
    stored = client.get("/calls/CA1").json()
    assert stored["status"] == "complete" and len(stored["utterances"]) >= 3


def test_second_stream_for_active_call_is_refused(client: TestClient) -> None:
    msgs = twilio_messages()
    with client.websocket_connect("/media") as first:
        for m in msgs[:50]:
            first.send_text(m)
        closed = closes(client, msgs[:2])
        assert closed.code == 1008 and "already streaming" in closed.reason
        first.send_text(stop())
    assert hub(client).drain(30)


def test_stored_call_id_cannot_be_reused(client: TestClient) -> None:
    run_call(client, twilio_messages())
    assert hub(client).drain(30)
    closed = closes(client, twilio_messages()[:2])
    assert closed.code == 1008 and "already stored" in closed.reason


def test_finals_are_stored_while_live_and_restart_marks_interrupted(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    msgs = twilio_messages()
    with AuthedClient(app) as c, c.websocket_connect("/media") as ws:
        for m in msgs[: int(len(msgs) * 0.85)]:
            ws.send_text(m)
        live = wait_for(lambda: stored_with(hub(c), "CA1", 3))
        assert live.status == "live"
        assert c.get("/calls", params={"active": True}).json()[0]["status"] == "live"
        # simulate a killed process: the database closes under the running call
        hub(c).calls.clear()
    with AuthedClient(make_app(tmp_path)) as c2:
        assert hub(c2).interrupted_on_start == ["CA1"]
        detail = c2.get("/calls/CA1").json()
        assert detail["status"] == "interrupted" and len(detail["utterances"]) >= 3
        events = c2.get("/calls/CA1/events").json()["events"]
        assert events[-1]["data"]["state"] == "interrupted"


# -- security and limits ---------------------------------------------------------------------------


def test_legacy_api_token_is_a_media_ingest_read_key(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, api_token="s3cret")) as c:
        assert c.get("/calls").status_code == 401
        assert c.get("/health", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/health").json() == {"status": "ok"}  # anonymous: the status only
        legacy = {"Authorization": "Bearer s3cret"}
        assert "models" in c.get("/health", headers=legacy).json()
        assert c.get("/calls", headers=legacy).status_code == 200  # read
        assert c.get("/users", headers=legacy).status_code == 403  # not admin
        with pytest.raises(WebSocketDisconnect) as closed, c.websocket_connect("/media") as ws:
            ws.receive_text()
        assert closed.value.code == 1008
        with c.websocket_connect("/media?token=s3cret") as ws:
            ws.send_text(twilio_messages()[0])


def test_non_local_bind_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "tok")
    with pytest.raises(ConfigError, match="needs an API token"):
        check_bind("0.0.0.0", "")


def test_frame_size_limit(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path, limits=Limits(max_frame_bytes=1000))) as c:
        closed = closes(c, twilio_messages()[:2] + ["x" * 2000])
    assert closed.code == 1009 and "larger than 1000" in closed.reason


def test_frame_rate_limit(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path, limits=Limits(max_frames_per_second=20))) as c:
        closed = closes(c, twilio_messages()[:60])
    assert closed.code == 1008 and "too many frames" in closed.reason


def test_max_concurrent_calls(tmp_path: Path) -> None:
    with AuthedClient(make_app(tmp_path, max_calls=1)) as c:
        msgs = twilio_messages()
        with c.websocket_connect("/media") as first:
            for m in msgs[:10]:
                first.send_text(m)
            other = [msgs[0], msgs[1].replace('"CA1"', '"CA2"')]
            closed = closes(c, other)
            assert closed.code == 1013 and "too many concurrent calls (max 1)" in closed.reason
            first.send_text(stop())
        assert hub(c).drain(30)


def test_raw_mode_bad_input(client: TestClient) -> None:
    assert closes(client, [], "/media/raw").reason == "call_id is required in the query string"
    assert closes(client, [], "/media/raw?call_id=a&channels=3").code == 1008
    with client.websocket_connect("/media/raw?call_id=r2&channels=2") as ws:
        ws.send_bytes(b"\x00\x01\x02")  # not whole stereo samples: dropped
        ws.send_text("hello")  # text other than stop: dropped
        ws.send_text("stop")
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()
    assert hub(client).drain(10)
    assert hub(client).get("r2").rejected_frames == 2


# -- REST ------------------------------------------------------------------------------------------


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["database"]["ok"] and health["active_calls"] == 0
    assert health["lag"] == {} and health["live_stages"] == {}
    run_call(client, twilio_messages())
    assert hub(client).drain(30)
    stages = client.get("/health").json()["live_stages"]
    # one call with speech: its finals were decoded, went through the steps and were stored; it ended once
    assert stages["end"]["jobs"] == 1
    assert stages["final_decode"]["jobs"] >= stages["final_steps"]["jobs"] >= 1
    assert stages["store"]["jobs"] == stages["final_steps"]["jobs"]
    assert all(v["seconds"] >= 0 for v in stages.values())
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/calls",
        "/calls/{call_id}/events",
        "/search",
        "/articles/{article_id}",
        "/gaps",
        "/health",
    ):
        assert path in paths


def test_search_feedback_outcome_language(client: TestClient) -> None:
    found = client.post("/search", json={"text": "how do I pay my tax bill", "k": 3}).json()
    assert found["abstained"] is False and found["hits"][0]["id"] == "pt-pay-bill"
    assert client.post("/search", json={"text": "   "}).status_code == 400
    assert client.post("/search", json={"text": "x", "k": 0}).status_code == 400
    run_call(client, twilio_messages())
    assert hub(client).drain(30)
    assert client.post("/calls/CA1/outcome", json={"outcome": "resolved"}).json()["outcome"] == "resolved"
    assert client.get("/calls/CA1").json()["outcome"] == "resolved"
    assert client.post("/calls/CA1/outcome", json={"outcome": "great"}).status_code == 400
    assert client.post("/calls/CA1/language", json={"language": "es"}).json()["language"] == "es"
    assert (
        client.post("/calls/CA1/feedback", json={"suggestion_id": "CA1:0", "kind": "meh"}).status_code == 400
    )
    assert (
        client.post("/calls/CA1/feedback", json={"suggestion_id": "CA1:99", "kind": "used"}).status_code
        == 400
    )
    assert client.get("/calls/nope").status_code == 404
    assert client.post("/calls/nope/outcome", json={"outcome": "resolved"}).status_code == 404


def test_articles_edit_validation_and_status(client: TestClient, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import shutil

    from assistant import config

    kb = tmp_path / "kb"
    shutil.copytree(REPO / "knowledge_base" / "voting", kb / "voting")
    monkeypatch.setenv("ASSISTANT_KB_DIR", str(kb))
    config.reset()
    listed = client.get("/articles").json()
    article = next(a for a in listed if a["id"] == "vote-register")
    assert article["usage"]["suggested"] == 0 and isinstance(article["grade"], float)
    bad = client.put("/articles/vote-register", json={**article, "status": "pending"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "status"
    assert "pending" not in (kb / "voting" / "vote-register.md").read_text()
    edited = {**article, "title": "Register to vote (updated)"}
    saved = client.put("/articles/vote-register", json=edited).json()  # a draft until published
    assert saved["pending_draft"]["article"]["title"] == "Register to vote (updated)"
    assert "(updated)" not in (kb / "voting" / "vote-register.md").read_text()
    published = client.post("/articles/vote-register/status", json={"status": "published"}).json()
    assert published["title"] == "Register to vote (updated)" and published["pending_draft"] is None
    assert client.post("/articles/vote-register/status", json={"status": "draft"}).json()["status"] == "draft"
    assert client.post("/articles/vote-register/status", json={"status": "gone"}).status_code == 400
    assert client.post("/articles/nope/status", json={"status": "draft"}).status_code == 404


def test_gaps_and_digests(client: TestClient) -> None:
    run_call(client, twilio_messages())
    assert hub(client).drain(30)
    assert client.get("/gaps").json() == []
    assert client.get("/gaps", params={"limit": 0}).status_code == 400
    assert client.get("/digests").json() == []
    assert client.get("/digests/2024-01-01").status_code == 404
    assert client.get("/digests/yesterday").status_code == 400


def test_digest_export_is_the_cli_file(client: TestClient) -> None:
    from assistant.digest.render import export

    digest = store_digest(client)
    for fmt, media_type, name in (("markdown", "text/markdown", "digest-2026-03-02.md"),
                                  ("csv", "text/csv", "digest-2026-03-02.csv")):  # fmt: skip
        r = client.get("/digests/2026-03-02/export", params={"format": fmt})
        assert r.status_code == 200 and r.text == export(digest, fmt).text
        assert r.headers["content-type"] == f"{media_type}; charset=utf-8"
        assert r.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert client.get("/digests/2026-03-02/export").text.startswith("# Daily digest 2026-03-02\n")
    assert (
        '"I lost my card, it said ""blocked"""'
        in client.get("/digests/2026-03-02/export", params={"format": "csv"}).text
    )


def test_digest_export_bad_format_missing_and_malformed_date(client: TestClient) -> None:
    store_digest(client)
    bad = client.get("/digests/2026-03-02/export", params={"format": "pdf"})
    assert bad.status_code == 400
    assert bad.json()["detail"] == "unknown digest export format 'pdf'; use one of: markdown, csv"
    missing = client.get("/digests/2024-01-01/export", params={"format": "csv"})
    assert missing.status_code == 404 and missing.json()["detail"].startswith("no digest for 2024-01-01")
    malformed = client.get("/digests/yesterday/export")
    assert malformed.status_code == 400 and "not a date" in malformed.json()["detail"]


def test_demo_call_bad_sample(client: TestClient) -> None:
    bad = client.post("/demo-calls", json={"sample": "../secrets.wav"})
    assert bad.status_code == 400 and "no bundled sample" in bad.json()["detail"]


# -- real models end to end ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_processor():  # noqa: ANN201
    from assistant.calls.processor import CallProcessor

    processor = CallProcessor()
    _ = processor.transcriber
    return processor


def heard(h, call_id: str) -> int:  # noqa: ANN001
    """16 kHz samples the server has taken in on every track of a live call."""
    call = h.calls.get(call_id)
    return (
        min((t.samples_seen for t in call.tracks.values()), default=0)
        if call and len(call.tracks) == 2
        else 0
    )


@pytest.mark.models
def test_sample_call_end_to_end_with_real_models(tmp_path: Path, real_processor) -> None:  # noqa: ANN001
    from assistant.service.sim import load_frames

    frames = load_frames(str(REPO / "samples" / "call-en-payment-pii.wav"))
    # never skip partials here: the test checks they exist, not how fast they come
    opts = ServiceOptions(
        db=str(tmp_path / "e2e.duckdb"),
        live=LiveOptions(max_partial_lag=1e9, partial_interval=2.0),
        allowed_hosts=TEST_HOSTS,
    )
    with AuthedClient(create_app(processor=real_processor, options=opts)) as c:
        msgs = twilio_messages("e2e", frames)
        with c.websocket_connect("/media") as ws:
            for n, m in enumerate(msgs):
                ws.send_text(m)
                if n % 100 == 1 and n > 1:  # each second of audio: let the worker catch up
                    wait_for(lambda h=(n - 1) // 2 * 320: heard(hub(c), "e2e") >= h)
                    assert hub(c).drain(120)
            ws.send_text(stop())
        events = all_events(c, "e2e")
        text = json.dumps(events)
        captions = [e["data"] for e in events if e["type"] == "caption"]
        for speaker in ("agent", "caller"):
            assert any(x["speaker"] == speaker and x["final"] for x in captions), speaker
            assert any(x["speaker"] == speaker and not x["final"] for x in captions), speaker
        suggested = {e["data"]["article_id"] for e in events if e["type"] == "suggestion"}
        assert suggested & {"pt-pay-bill", "vote-register"}
        assert "4111" not in text and "1111" not in text and "[CARD]" in text
        detail = c.get("/calls/e2e").json()
        assert detail["status"] == "complete" and detail["summary"]
        con = hub(c).cursor()
        stored_text = json.dumps(con.execute("SELECT * FROM utterances").fetchall(), default=str)
        stored_text += json.dumps(con.execute("SELECT * FROM suggestions").fetchall(), default=str)
        assert "4111" not in stored_text and "1111" not in stored_text


def complete(h, call_id: str):  # noqa: ANN001, ANN201
    found = storage.get_call(h.cursor(), call_id)
    return found if found is not None and found.status == "complete" else None


class BlockedLLM:
    """A real OpenAI-style endpoint on a local port that answers only when released."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.asked = threading.Event()
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.asked.set()
                outer.release.wait(60)
                body = json.dumps(
                    {"choices": [{"message": {"content": "The caller asked about a tax bill."}}]}
                )
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


def test_a_slow_llm_summary_never_holds_up_another_call(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from assistant import config

    llm = BlockedLLM()
    monkeypatch.setenv("ASSISTANT_LLM_URL", llm.url)
    config.reset()
    try:
        with AuthedClient(make_app(tmp_path)) as c:
            run_call(c, twilio_messages("CA-first"))
            assert llm.asked.wait(30), "the first call's end asked the LLM for a summary"
            # While that request hangs, a second call is transcribed, searched and stored.
            run_call(c, twilio_messages("CA-second"))
            second = wait_for(lambda: complete(hub(c), "CA-second"))
            assert second.summary_json and len(second.utterances) == 4
            first = storage.get_call(hub(c).cursor(), "CA-first")
            assert first.status == "complete" and "llm_summary" not in first.summary_json
            c.post("/calls/CA-first/outcome", json={"outcome": "follow-up"})
            llm.release.set()
            done = wait_for(lambda: "llm_summary" in c.get("/calls/CA-first").json()["summary"])
            assert done
            detail = c.get("/calls/CA-first").json()
            assert detail["summary"]["llm_summary"]["machine_generated"] is True
            assert detail["outcome"] == "follow-up", "the late summary kept what the agent set meanwhile"
            summaries = [e for e in all_events(c, "CA-first") if e["type"] == "summary"]
            assert "llm_summary" in summaries[-1]["data"]
    finally:
        llm.close()
        config.reset()


def test_openapi_command_gives_every_json_response_a_schema_without_starting_anything(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    env = {**os.environ, "ASSISTANT_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "openapi"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    missing = []
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            for code, response in op["responses"].items():
                if not code.startswith("2"):
                    continue
                content = response.get("content", {})
                body = content.get("application/json")
                # a named model ($ref), a list of them, or a list of strings: never a bare object or {}
                typed = body is not None and (
                    "$ref" in json.dumps(body["schema"])
                    or body["schema"]
                    == {"type": "array", "items": {"type": "string"}, "title": body["schema"].get("title")}
                )
                if not content or (body is not None and not typed):
                    missing.append(f"{method.upper()} {path} {code}")
    assert len(schema["paths"]) >= 15 and not missing, missing
    assert schema["components"]["schemas"]["CallRow"]["properties"]["reason"]
    assert not (home / "assistant.duckdb").exists(), "no database opened"


def test_simulated_calls_start_in_step_or_spread_over_the_given_seconds(monkeypatch) -> None:  # noqa: ANN001
    """`simulate_many` (the load benchmark's driver) starts calls 50 ms apart by default, or evenly over
    `spread` seconds, and returns every call's result."""
    from assistant.service import sim

    pauses: list[float] = []
    monkeypatch.setattr(sim, "load_frames", lambda path, loop_to=None: {"caller": []})
    monkeypatch.setattr(sim, "simulate", lambda path, options, frames=None: f"result of {path}")
    monkeypatch.setattr(sim, "time", SimpleNamespace(sleep=pauses.append))  # this module's clock only
    assert sim.simulate_many("a.wav", sim.SimOptions(), 3) == ["result of a.wav"] * 3
    assert pauses == [0.05] * 3
    pauses.clear()
    assert len(sim.simulate_many("a.wav", sim.SimOptions(), 4, spread=1.2)) == 4
    assert pauses == [pytest.approx(0.3)] * 4
