"""Shared test helpers and fakes (not a test module): what several test modules use."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from fakes import conversation, fake_processor
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.service.app import ServiceOptions, create_app
from assistant.speech.audio import encode_mulaw


def make_app(tmp_path: Path, **overrides):  # noqa: ANN003, ANN201
    opts = ServiceOptions(db=str(tmp_path / "svc.duckdb"), live=LiveOptions(), **overrides)
    return create_app(processor=fake_processor(), options=opts, catalog=ArticleCatalog.load())


def hub(c: TestClient):  # noqa: ANN201
    return c.app.state.hub


def twilio_messages(call_id: str = "CA1", tracks: dict[str, np.ndarray] | None = None) -> list[str]:
    tracks = tracks or conversation(8000)
    out = [
        json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}),
        json.dumps(
            {
                "event": "start",
                "streamSid": "MZ1",
                "start": {
                    "streamSid": "MZ1",
                    "callSid": call_id,
                    "tracks": ["inbound", "outbound"],
                    "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                },
            }
        ),
    ]
    for n, pos in enumerate(range(0, len(tracks["agent"]), 160)):
        for track, speaker in (("outbound", "agent"), ("inbound", "caller")):
            payload = base64.b64encode(encode_mulaw(tracks[speaker][pos : pos + 160])).decode()
            media = {"track": track, "chunk": str(n), "timestamp": str(n * 20), "payload": payload}
            out.append(json.dumps({"event": "media", "streamSid": "MZ1", "media": media}))
    return out


def stop() -> str:
    return json.dumps({"event": "stop", "streamSid": "MZ1", "stop": {"callSid": "CA1"}})


def run_call(c: TestClient, messages: list[str], *, end: bool = True) -> int | None:
    """Send messages; returns the close code (None when the client just leaves)."""
    with c.websocket_connect("/media") as ws:
        for m in messages:
            ws.send_text(m)
        if not end:
            return None
        ws.send_text(stop())
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return closed.value.code


def wait_for(check, timeout: float = 30.0):  # noqa: ANN001, ANN201
    """The server reads the socket on its own schedule: poll instead of sleeping."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def closes(c: TestClient, messages: list[str], path: str = "/media") -> WebSocketDisconnect:
    with c.websocket_connect(path) as ws:
        for m in messages:
            ws.send_text(m)
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
    return closed.value
