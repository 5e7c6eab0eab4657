"""Genesys AudioHook at /audiohook: the signed upgrade, the protocol's messages and sequence
numbers, transcripts back, the connection probe, and what is stored (never the caller's number)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import numpy as np
import pytest
from fakes import conversation
from privacy_scan import scan_connection
from service_util import AuthedClient, hub, make_app
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from assistant import storage
from assistant.identity import audit, keys
from assistant.service.media.audiohook import AudioHookSerializer, call_id_for, choose_media, parse_duration
from assistant.service.media.events import Audio, Gap, Mark, Reply, Start, Stop
from assistant.service.sim_audiohook import Session, signed_headers, stereo_frames

URL = "ws://testserver/audiohook"
ANI = "+1-555-555-1234"


def media_key(c: AuthedClient) -> tuple[str, str]:
    made = keys.create_key(
        hub(c).cursor(), ["media"], f"genesys-{uuid.uuid4().hex[:6]}", by="test", client_secret=True
    )
    assert made.client_secret is not None
    return made.key, made.client_secret


def refusals(c: AuthedClient) -> list[str]:
    return [line.target for line in audit.lines(hub(c).cursor()) if line.action == "audiohook.refused"]


@pytest.fixture
def client(tmp_path: Path):  # noqa: ANN201
    with AuthedClient(make_app(tmp_path)) as c:
        c.headers.pop("Authorization")  # AudioHook authenticates with X-API-KEY and a signature
        yield c


def connect(c: AuthedClient, key: str, secret: str, session: Session, **kw):  # noqa: ANN003, ANN201
    return c.websocket_connect(
        "/audiohook", headers=signed_headers(URL, key, secret, session.session_id, **kw)
    )


# -- the upgrade -----------------------------------------------------------------------------------


def test_wrong_key_wrong_signature_and_replay_are_refused_with_401(client: AuthedClient) -> None:
    key, secret = media_key(client)
    s = Session()
    wrong_secret = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
    cases = [
        signed_headers(URL, "ak_" + "x" * 43, secret, s.session_id),  # a key the service never made
        signed_headers(URL, key, wrong_secret, s.session_id),  # signed with another secret
        {k: v for k, v in signed_headers(URL, key, secret, s.session_id).items() if k.lower() != "signature"},
    ]
    for headers in cases:
        with (
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/audiohook", headers=headers),
        ):
            pass
        assert refused.value.status_code == 401
    headers = signed_headers(URL, key, secret, s.session_id, nonce="once")
    with client.websocket_connect("/audiohook", headers=headers) as ws:  # the first use is fine
        ws.send_text(s.message("close", {"reason": "end"}))
        assert json.loads(ws.receive_text())["type"] == "closed"
    with (
        pytest.raises(WebSocketDenialResponse) as replayed,
        client.websocket_connect("/audiohook", headers=headers),
    ):
        pass
    assert replayed.value.status_code == 401
    found = refusals(client)
    assert len(found) == 4
    assert "unknown API key" in found[0] and "bad signature" in found[1] and "no signature" in found[2]
    assert "replayed" in found[3]
    assert not any(key in line or secret in line for line in found)


def test_a_header_outside_the_signature_cannot_be_changed(client: AuthedClient) -> None:
    key, secret = media_key(client)
    headers = signed_headers(URL, key, secret, str(uuid.uuid4()))
    headers["Audiohook-Session-Id"] = str(uuid.uuid4())  # a covered header altered after signing
    with (
        pytest.raises(WebSocketDenialResponse) as refused,
        client.websocket_connect("/audiohook", headers=headers),
    ):
        pass
    assert refused.value.status_code == 401


def test_keys_cli_prints_the_key_and_secret_last(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from assistant.cli import main

    code = main(["keys", "create", "--scope", "media", "--audiohook", "--db", str(tmp_path / "k.duckdb")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-2].startswith("api key: ak_") and lines[-1].startswith("client secret: ")
    import base64

    assert len(base64.b64decode(lines[-1].split(": ", 1)[1], validate=True)) == 32


def test_a_client_secret_needs_the_media_scope(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from assistant.cli import main

    code = main(["keys", "create", "--scope", "read", "--audiohook", "--db", str(tmp_path / "k.duckdb")])
    assert code == 2
    assert "media" in capsys.readouterr().err


# -- the protocol ----------------------------------------------------------------------------------


def test_sequence_numbers_follow_the_protocol(client: AuthedClient) -> None:
    key, secret = media_key(client)
    s = Session()
    with connect(client, key, secret, s) as ws:
        ws.send_text(s.open(str(uuid.uuid4()), {"agent": "jane.doe", "queue": "tax"}))
        opened = s.seen(ws.receive_text())
        assert (opened["type"], opened["seq"], opened["clientseq"]) == ("opened", 1, 1)
        assert opened["parameters"]["media"] == [
            {"type": "audio", "format": "PCMU", "channels": ["external", "internal"], "rate": 8000}
        ]
        ws.send_text(s.message("ping", {}))
        pong = s.seen(ws.receive_text())
        assert (pong["type"], pong["seq"], pong["clientseq"]) == ("pong", 2, 2)
        ws.send_text(s.message("update", {"language": "es-US"}))  # no answer: the next is pong 3
        ws.send_text(s.message("ping", {}))
        assert (s.seen(ws.receive_text())["seq"], s.serverseq) == (3, 3)
        ws.send_text(s.message("close", {"reason": "end"}))
        closed = s.seen(ws.receive_text())
        assert (closed["type"], closed["seq"], closed["clientseq"]) == ("closed", 4, 5)
        with pytest.raises(WebSocketDisconnect):
            ws.receive_text()


def test_a_message_out_of_order_gets_a_disconnect() -> None:
    ser = AudioHookSerializer("e160e428-53e2-487c-977d-96989bf5c99d", b"salt")
    s = Session(session_id=ser.id)
    s.seq = 4  # skips 1..4
    (reply,) = ser.deserialize(s.message("ping", {}), None)
    assert isinstance(reply, Reply)
    msg = json.loads(reply.text)
    assert (
        msg["type"] == "disconnect"
        and msg["parameters"]["reason"] == "error"
        and "seq" in msg["parameters"]["info"]
    )


def test_media_offers_and_speakers() -> None:
    offers = [
        {"type": "audio", "format": "opus", "channels": ["external"], "rate": 8000},
        {"type": "audio", "format": "PCMU", "channels": ["internal", "external"], "rate": 8000},
    ]
    assert choose_media(offers) == offers[1]
    assert (
        choose_media([{"type": "audio", "format": "PCMU", "channels": ["external"], "rate": 16000}]) is None
    )
    ser = AudioHookSerializer("e160e428-53e2-487c-977d-96989bf5c99d", b"salt")
    s = Session(session_id=ser.id)
    events = ser.deserialize(s.open(str(uuid.uuid4()), {}, channels=("internal", "external")), None)
    assert isinstance(events[0], Start) and not events[0].probe
    out = ser.deserialize(None, bytes([0xFF, 0x00] * 160))  # internal silent, external loud
    assert [a.speaker for a in out if isinstance(a, Audio)] == ["agent", "caller"]
    loud = [float(np.abs(a.samples).max()) for a in out if isinstance(a, Audio)]
    assert loud[0] < 0.01 < loud[1]
    with pytest.raises(Exception, match="whole samples"):
        ser.deserialize(None, b"\x00\x01\x02")


def test_positions_move_on_over_what_was_not_sent() -> None:
    ser = AudioHookSerializer("e160e428-53e2-487c-977d-96989bf5c99d", b"salt")
    s = Session(session_id=ser.id)
    ser.deserialize(s.open(str(uuid.uuid4()), {}), None)
    ser.deserialize(None, bytes(2 * 8000))  # one second received
    s.position = 1.0
    assert ser.deserialize(s.message("discarded", {"start": "PT1S", "discarded": "PT0.5S"}), None) == []
    s.position = 1.5  # the client's position says half a second was never sent
    (gap,) = ser.deserialize(s.message("discarded", {"start": "PT1S", "discarded": "PT0.5S"}), None)
    assert isinstance(gap, Gap) and gap.seconds == pytest.approx(0.5)
    assert ser.deserialize(s.message("paused", {}), None) == [Mark("paused")]
    assert ser.deserialize(s.message("close", {"reason": "end"}), None) == [Stop()]
    assert parse_duration("PT6.3S") == pytest.approx(6.3)


def test_the_connection_probe_is_answered_and_not_stored(client: AuthedClient) -> None:
    key, secret = media_key(client)
    s = Session()
    with connect(client, key, secret, s) as ws:
        ws.send_text(s.open("00000000-0000-0000-0000-000000000000", {}))
        assert s.seen(ws.receive_text())["type"] == "opened"
        ws.send_text(s.message("close", {"reason": "end"}))
        assert s.seen(ws.receive_text())["type"] == "closed"
    assert hub(client).drain(30)
    con = hub(client).cursor()
    assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == 0


def test_deep_json_is_refused_cleanly_on_every_socket(tmp_path: Path) -> None:
    deep = "[" * 2000 + "]" * 2000
    with AuthedClient(make_app(tmp_path)) as c:
        with c.websocket_connect("/media") as ws:
            ws.send_text(deep)
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
        assert closed.value.code == 1007 and "nested deeper" in closed.value.reason
        c.headers.pop("Authorization")
        key, secret = media_key(c)
        s = Session()
        with connect(c, key, secret, s) as ws:
            ws.send_text(deep)
            reply = s.seen(ws.receive_text())
            assert reply["type"] == "disconnect" and "nested deeper" in reply["parameters"]["info"]


# -- a call ------------------------------------------------------------------------------------------


def stream_call(c: AuthedClient, custom: dict[str, str]) -> tuple[str, list[dict]]:
    """A stereo call over AudioHook; the conversation id and the server's messages."""
    key, secret = media_key(c)
    s = Session()
    conversation_id = str(uuid.uuid4())
    tracks = conversation(8000)
    got = []
    with connect(c, key, secret, s) as ws:
        ws.send_text(s.open(conversation_id, custom))
        got.append(s.seen(ws.receive_text()))
        for frame in stereo_frames(tracks["caller"], tracks["agent"]):
            ws.send_bytes(frame)
            s.position += len(frame) / 2 / 8000
        ws.send_text(s.message("close", {"reason": "end"}))
        while got[-1]["type"] != "closed":
            got.append(s.seen(ws.receive_text()))
    return conversation_id, got


def test_a_call_gets_transcripts_back_and_is_stored_without_the_number(client: AuthedClient) -> None:
    conversation_id, got = stream_call(client, {"agent": "jane.doe", "queue": "tax", "language": "en"})
    assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
    transcripts = [m["parameters"]["entities"][0]["data"] for m in got if m["type"] == "event"]
    assert len(transcripts) == 4  # the four utterances of the conversation
    first = transcripts[0]
    assert first["channelId"] == 1 and first["isFinal"]  # the agent speaks first, on internal
    assert parse_duration(first["offset"]) == pytest.approx(0.5, abs=0.3)
    assert parse_duration(first["duration"]) == pytest.approx(1.5, abs=0.4)
    words = first["alternatives"][0]["interpretations"][0]["tokens"]
    offsets = [parse_duration(w["offset"]) for w in words]
    assert offsets == sorted(set(offsets)) and 0 <= first["alternatives"][0]["confidence"] <= 1
    card = [t for t in transcripts if "4111" in json.dumps(t) or "card" in json.dumps(t).lower()]
    assert not any("4111" in json.dumps(t) for t in transcripts)  # redacted as everything else
    assert card  # the agent's question about the card is there
    assert hub(client).drain(30)
    stored = storage.get_call(hub(client).cursor(), call_id_for(conversation_id))
    assert stored is not None and stored.agent_id == "jane.doe" and stored.queue == "tax"
    assert stored.source.startswith("audiohook:ani-")
    leaks, _ = scan_connection(hub(client).cursor(), {"ani": ANI, "card": "4111111111111111"})
    assert not leaks
    for table in ("calls", "utterances", "audit_log"):
        rows = hub(client).cursor().execute(f"SELECT * FROM {table}").fetchall()
        assert "555" not in json.dumps(rows, default=str) and "Test Caller" not in json.dumps(
            rows, default=str
        )
