"""The live floor through the service (issue 18): routing from the media stream's start (Twilio
customParameters, raw query string), `GET /floor` and who sees what, alerts as events and stored with
the call, the webhook, `assistant floor`, `simulate-call --param`, and a privacy scan of it all."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import threading
import wave
from pathlib import Path

import numpy as np
import pytest
from fakes import RATE, FakeIndex, FakeTranscriber, ZeroEmbedder, conversation
from service_util import AuthedClient, as_user, closes, hub, stop, wait_for

from assistant import cli, config
from assistant.calls.processor import CallOptions, CallProcessor
from assistant.commands.floor import lines
from assistant.commands.simulate import parse_params
from assistant.errors import InputError
from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.service.app import ServiceOptions, create_app
from assistant.service.schemas import Floor, parse
from assistant.speech.audio import encode_mulaw

# The caller's first sentence (400 Hz) asks for a supervisor and reads out a card number.
ANGRY = {
    400: ("caller", "Give me a supervisor now, my card 4111 1111 1111 1111 was charged twice.", 2.0),
    600: ("agent", "I am sorry to hear that. Let me look at the account.", 1.5),
    800: ("caller", "And I still cannot pay my property tax bill online.", 2.0),
    1000: ("agent", "I can take the payment by phone.", 1.2),
}


def angry_app(tmp_path: Path, **options):  # noqa: ANN003, ANN201
    opts = ServiceOptions(
        db=str(tmp_path / "floor.duckdb"), live=LiveOptions(), allowed_hosts=("testserver",), **options
    )
    processor = CallProcessor(
        CallOptions(), transcriber=FakeTranscriber(ANGRY), embedder=ZeroEmbedder(), index=FakeIndex()
    )
    return create_app(processor=processor, options=opts, catalog=ArticleCatalog.load())


def start(call_id: str, **params: str) -> list[str]:
    begin = {"streamSid": f"MZ-{call_id}", "callSid": call_id, "tracks": ["inbound", "outbound"],
             "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
             "customParameters": params}  # fmt: skip
    return [
        json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json.dumps({"event": "start", "streamSid": f"MZ-{call_id}", "start": begin}),
    ]


def media(tracks: dict[str, np.ndarray], until: float | None = None) -> list[str]:
    out = []
    end = len(tracks["agent"]) if until is None else int(until * 8000)
    for n, pos in enumerate(range(0, end, 160)):
        for track, speaker in (("outbound", "agent"), ("inbound", "caller")):
            payload = base64.b64encode(encode_mulaw(tracks[speaker][pos : pos + 160])).decode()
            msg = {"track": track, "chunk": str(n), "timestamp": str(n * 20), "payload": payload}
            out.append(json.dumps({"event": "media", "media": msg}))
    return out


@contextlib.contextmanager
def live_call(c, call_id: str, until: float = 5.3, **params: str):  # noqa: ANN001, ANN003, ANN201
    """A call streaming its first `until` seconds and still open (on the floor) inside the block."""
    tracks = conversation(8000)
    with c.websocket_connect("/media") as ws:
        for m in start(call_id, **params) + media(tracks, until):
            ws.send_text(m)
        wait_for(lambda: (call := hub(c).calls.get(call_id)) is not None and call.duration >= until - 0.05)
        assert hub(c).drain(30)
        yield ws
        ws.send_text(stop())


def floor_ids(c, headers=None) -> dict[str, str | None]:  # noqa: ANN001
    body = c.get("/floor", headers=headers or {}).json()
    parse(Floor, body)
    return {row["call_id"]: row["agent"] for row in body["calls"]}


def test_three_routed_calls_on_the_floor_and_each_agent_sees_their_own(tmp_path: Path) -> None:
    with AuthedClient(angry_app(tmp_path)) as c:
        with live_call(c, "CA-a", agent="ana", queue="benefits"), live_call(c, "CA-b", agent="ben", queue="tax"), \
                live_call(c, "CA-c", agent="cy", queue="benefits", language="es"):  # fmt: skip
            assert floor_ids(c) == {"CA-a": "ana", "CA-b": "ben", "CA-c": "cy"}
            assert floor_ids(c, as_user(c, "ana", "agent")) == {"CA-a": "ana"}
            assert floor_ids(c, as_user(c, "sam", "supervisor")) == {
                "CA-a": "ana",
                "CA-b": "ben",
                "CA-c": "cy",
            }
            assert c.get("/floor", headers=as_user(c, "kim", "knowledge_manager")).status_code == 403
            rows = {r["call_id"]: r for r in c.get("/floor").json()["calls"]}
        wait_for(lambda: c.get("/floor").json() == {"calls": []})  # ended calls leave the floor
        stored = c.get("/calls/CA-c").json()
    a, spanish = rows["CA-a"], rows["CA-c"]
    assert (a["queue"], a["duration"] >= 5.2, a["started_at"] is not None) == ("benefits", True, True)
    assert spanish["language"] == "es"  # the platform's routing sets the caller's language
    assert [x["kind"] for x in a["alerts"]] == ["escalation"]
    assert a["sentiment"] in ("negative", "neutral", "positive")
    assert stored["queue"] == "benefits" and stored["language"] == "es"
    assert [x["kind"] for x in stored["alerts"]] == ["escalation"]


def test_alerts_are_events_and_stored_events_of_an_ended_call(tmp_path: Path) -> None:
    with AuthedClient(angry_app(tmp_path)) as c:
        with live_call(c, "CA-e", agent="ana", until=10.0):
            live = c.get("/calls/CA-e/events").json()["events"]
        assert hub(c).drain(30)
        hub(c).recent.clear()  # forget it in memory: the events now come from the database
        again = c.get("/calls/CA-e/events").json()["events"]
    assert [e["data"]["kind"] for e in live if e["type"] == "alert"] == ["escalation"]
    assert [e["data"] for e in again if e["type"] == "alert"] == [
        e["data"] for e in live if e["type"] == "alert"
    ]


def test_floor_shows_the_latest_need_last_suggestion_and_its_feedback(tmp_path: Path) -> None:
    with AuthedClient(angry_app(tmp_path)) as c, live_call(c, "CA-f", agent="ana", until=8.5):
        row = c.get("/floor").json()["calls"][0]
        last = row["last_suggestion"]
        assert last["article_id"] == "pt-pay-bill" and last["feedback"] is None
        assert "property tax bill" in row["latest_need"]
        given = c.post("/calls/CA-f/feedback", json={"suggestion_id": last["suggestion_id"], "kind": "used"})
        assert given.status_code == 200
        assert c.get("/floor").json()["calls"][0]["last_suggestion"]["feedback"] == "used"


def test_raw_socket_takes_the_routing_as_query_parameters(tmp_path: Path) -> None:
    tracks = conversation(RATE)
    pcm = (np.stack([tracks["agent"], tracks["caller"]], axis=1)[: 3 * RATE] * 32767).astype("<i2")
    with (
        AuthedClient(angry_app(tmp_path)) as c,
        c.websocket_connect("/media/raw?call_id=raw-f&channels=2&agent=ana&queue=licences&language=ES") as ws,
    ):
        for pos in range(0, len(pcm), 320):
            ws.send_bytes(pcm[pos : pos + 320].tobytes())
        wait_for(lambda: (call := hub(c).calls.get("raw-f")) is not None and call.duration >= 2.9)
        row = c.get("/floor").json()["calls"][0]
        ws.send_text('{"event": "stop"}')
    assert (row["agent"], row["queue"], row["language"]) == ("ana", "licences", "es")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"agent": "ana smith"}, "the agent name must be"),
        ({"queue": "bad/queue"}, "the queue name must be"),
        ({"language": "klingon"}, "unknown language code"),
    ],
)
def test_malformed_routing_refuses_the_call(tmp_path: Path, params: dict, message: str) -> None:
    with AuthedClient(angry_app(tmp_path)) as c:
        closed = closes(c, start("CA-bad", **params))
        raw = closes(c, [], "/media/raw?call_id=r&" + "&".join(f"{k}={v}" for k, v in params.items()))
        assert c.get("/floor").json() == {"calls": []}
    assert closed.code == 1008 and message in closed.reason
    assert raw.code == 1008 and message in raw.reason


class Receiver(http.server.BaseHTTPRequestHandler):
    got: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.got.append({"type": self.headers["Content-Type"], "body": json.loads(body)})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_the_webhook_receives_each_alert_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Receiver.got = []
    monkeypatch.setenv("ASSISTANT_ALERT_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/alerts")
    config.reset()
    try:
        with AuthedClient(angry_app(tmp_path)) as c, live_call(c, "CA-w", agent="ana", queue="tax"):
            wait_for(lambda: Receiver.got)
    finally:
        server.shutdown()
    (hook,) = Receiver.got
    assert hook["type"] == "application/json"
    body = hook["body"]
    assert (body["call_id"], body["agent"], body["queue"], body["kind"]) == (
        "CA-w",
        "ana",
        "tax",
        "escalation",
    )
    assert set(body) == {"call_id", "agent", "queue", "kind", "at", "detail"}
    assert "4111" not in json.dumps(body) and "[CARD]" in body["detail"]


def test_a_webhook_that_is_not_http_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.errors import ConfigError

    monkeypatch.setenv("ASSISTANT_ALERT_WEBHOOK_URL", "ftp://example.org/x")
    config.reset()
    with (
        pytest.raises(ConfigError, match="alert_webhook_url must be an http"),
        AuthedClient(angry_app(tmp_path)),
    ):
        pass


def test_nothing_on_the_floor_or_in_alerts_holds_the_card_number(tmp_path: Path) -> None:
    with AuthedClient(angry_app(tmp_path)) as c:
        with live_call(c, "CA-p", agent="ana", until=10.0):
            shown = c.get("/floor").text + c.get("/calls/CA-p/events").text
        stored = c.get("/calls/CA-p").text
        shown += c.get("/calls/CA-p/events").text
    for text in (shown, stored):
        assert "escalation" in text and "[CARD]" in text
        assert "4111" not in text and "1111" not in text


# ---------------------------------------------------------------- the CLI


def test_floor_text_names_agents_and_alerts_in_words() -> None:
    floor = {"calls": [{"call_id": "c1", "agent": "ana", "queue": "tax", "started_at": "2026-03-02T10:00:00+00:00",
                        "duration": 125.0, "language": "es", "sentiment": "negative", "sentiment_trend": "worsening",
                        "latest_need": "pay my bill", "alerts": [{"kind": "no_answer", "at": "2026-03-02T10:02:00+00:00",
                                                                   "detail": "2 needs without an approved answer"}],
                        "last_suggestion": None}]}  # fmt: skip
    text = "\n".join(lines(parse(Floor, floor)))
    assert "agent ana  queue tax  02:05" in text and "caller negative, worsening" in text
    assert "ALERT no answer at 2026-03-02T10:02:00+00:00: 2 needs without an approved answer" in text
    assert lines({"calls": []}) == ["No live calls."]


def write_call(path: Path) -> Path:
    tracks = conversation(RATE)
    stereo = (np.stack([tracks["agent"], tracks["caller"]], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(stereo.tobytes())
    return path


def test_three_simulated_calls_with_param_agent_on_the_floor_api_and_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate-call --param agent=...` three times against the service on a real port; while they
    stream, `GET /floor` and `assistant floor --json` list all three with their agents."""
    from console_backends import RealService

    service = RealService(tmp_path, monkeypatch)
    base = service.client.base_url
    monkeypatch.setenv("ASSISTANT_API_TOKEN", service.client._http.headers["Authorization"].split()[1])
    config.reset()
    wav = write_call(tmp_path / "call.wav")
    codes: list[int] = []
    ws = base.replace("http://", "ws://") + "/media"
    args = [["simulate-call", str(wav), "--url", ws, "--quiet", "--param", f"agent={a}", "--param", "queue=benefits"]
            for a in ("ana", "ben", "cy")]  # fmt: skip
    threads = [threading.Thread(target=lambda a=a: codes.append(cli.main(a))) for a in args]
    try:
        for t in threads:
            t.start()

        def three() -> dict | None:
            found = service.client.floor()
            return found if len(found["calls"]) == 3 else None

        floor = wait_for(three, 60)
        assert sorted(r["agent"] for r in floor["calls"]) == ["ana", "ben", "cy"]
        assert {r["queue"] for r in floor["calls"]} == {"benefits"}
        capsys.readouterr()
        assert cli.main(["floor", "--json", "--url", base]) == 0
        out = capsys.readouterr().out.splitlines()
        printed = json.loads(next(line for line in out if line.startswith('{"calls"')))
        assert sorted(r["agent"] for r in printed["calls"]) == ["ana", "ben", "cy"]
        assert set(printed) == {"calls"} and {"call_id", "agent", "queue", "started_at", "duration", "language",
                                              "sentiment", "sentiment_trend", "latest_need", "alerts"} <= set(printed["calls"][0])  # fmt: skip
        assert cli.main(["floor", "--url", base]) == 0
        assert "3 live calls" in capsys.readouterr().out
    finally:
        for t in threads:
            t.join(120)
        service.close()
    assert codes == [0, 0, 0]


@pytest.mark.parametrize(
    ("param", "message"),
    [
        ("agent", "--param 'agent' is not KEY=VALUE"),
        ("=ana", "--param '=ana' is not KEY=VALUE"),
        ("ag ent=ana", "--param key 'ag ent' must be"),
        ("call_id=x", "--param call_id is set by simulate-call itself"),
    ],
)
def test_simulate_call_param_without_key_value_is_exit_2(
    tmp_path: Path, param: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = cli.main(["simulate-call", str(write_call(tmp_path / "c.wav")), "--param", param])
    assert code == 2 and message in capsys.readouterr().err


def test_parse_params_refuses_a_key_given_twice() -> None:
    assert parse_params(["agent=ana", "queue= tax "]) == {"agent": "ana", "queue": "tax"}
    with pytest.raises(InputError, match="given twice"):
        parse_params(["agent=a", "agent=b"])


def test_floor_cli_without_a_service_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    from console_backends import free_port

    code = cli.main(["floor", "--url", f"http://127.0.0.1:{free_port()}"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: the floor shows live calls") and err.count("\n") == 1
