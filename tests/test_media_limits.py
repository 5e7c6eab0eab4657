"""What one media key can hold (issue 29 item 7): a socket with no speech is closed after
`media_silence_timeout`, and one key holds at most its share of the call slots."""

from __future__ import annotations

import base64
import json
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from service_util import AuthedClient, as_key, hub, make_app, twilio_messages
from starlette.websockets import WebSocketDisconnect

from assistant.service.media import Limits, load_json
from assistant.speech.audio import encode_mulaw

SILENT = json.dumps(
    {
        "event": "media",
        "media": {"track": "inbound", "payload": base64.b64encode(encode_mulaw(np.zeros(160))).decode()},
    }
)


def test_a_socket_that_never_speaks_is_closed_and_frees_its_slot(tmp_path: Path) -> None:
    limits = Limits(silence_timeout=0.5, idle_timeout=30)
    with AuthedClient(make_app(tmp_path, limits=limits, max_calls=1)) as c:
        with c.websocket_connect("/media") as ws:
            for m in twilio_messages("HOLD")[:2]:
                ws.send_text(m)
            with pytest.raises(WebSocketDisconnect) as closed:  # a silent frame now and then
                for _ in range(40):
                    ws.send_text(SILENT)
                    time.sleep(0.05)
                ws.receive_text()
        assert closed.value.code == 1008 and "silence timeout" in closed.value.reason
        assert hub(c).drain(30) and not hub(c).calls
        with c.websocket_connect("/media") as ws:  # the slot is free for a real call
            for m in twilio_messages("REAL"):
                ws.send_text(m)
            ws.send_text(json.dumps({"event": "stop"}))
            with pytest.raises(WebSocketDisconnect) as ended:
                ws.receive_text()
        assert ended.value.code == 1000


def test_speech_resets_the_silence_clock_and_a_pause_stops_it(monkeypatch) -> None:  # noqa: ANN001
    from types import SimpleNamespace

    from assistant.service.media import transport
    from assistant.service.media.events import Closed

    now = [100.0]
    monkeypatch.setattr(transport, "time", SimpleNamespace(monotonic=lambda: now[0]))
    stream = transport.Stream(None, None, Limits(silence_timeout=10.0), None)  # type: ignore[arg-type]
    track = SimpleNamespace(speaking=False)
    stream.call = SimpleNamespace(tracks={"caller": track})  # type: ignore[assignment]
    now[0] += 9.0
    stream.check_silence()  # 9 s without speech: still open
    track.speaking = True
    now[0] += 5.0
    stream.check_silence()  # speech now: the clock starts again
    track.speaking = False
    stream.paused = True
    now[0] += 60.0
    stream.check_silence()  # a paused stream (AudioHook) is not a silent one
    stream.paused = False
    now[0] += 10.5
    with pytest.raises(Closed, match="silence timeout"):
        stream.check_silence()


def test_one_key_holds_only_its_share_of_call_slots(tmp_path: Path) -> None:
    with (
        AuthedClient(make_app(tmp_path, limits=Limits(key_share=0.5), max_calls=4)) as c,
        ExitStack() as stack,
    ):
        flood = as_key(c, "media")
        for n in range(2):  # half of the 4 slots
            ws = stack.enter_context(c.websocket_connect("/media", headers=flood))
            for m in twilio_messages(f"F{n}")[:2]:
                ws.send_text(m)
        assert wait_for(lambda: len(hub(c).calls) == 2)
        with c.websocket_connect("/media", headers=flood) as ws:
            for m in twilio_messages("F2")[:2]:
                ws.send_text(m)
            with pytest.raises(WebSocketDisconnect) as refused:
                ws.receive_text()
        assert refused.value.code == 1013 and "for key" in refused.value.reason
        other = as_key(c, "media")  # another key still gets a slot
        with c.websocket_connect("/media", headers=other) as ws:
            for m in twilio_messages("OTHER")[:2]:
                ws.send_text(m)
            ws.send_text(json.dumps({"event": "stop"}))
            with pytest.raises(WebSocketDisconnect) as ended:
                ws.receive_text()
        assert ended.value.code == 1000


def wait_for(check, seconds: float = 10.0) -> bool:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_deep_json_is_a_clean_error() -> None:
    from assistant.errors import InputError

    with pytest.raises(InputError, match="nested deeper"):
        load_json('{"a":' * 2000 + "1" + "}" * 2000)
    assert load_json('{"s": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}') == {"s": "[" * 40}
