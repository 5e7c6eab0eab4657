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

from assistant import storage
from assistant.identity.accounts import open_session
from assistant.identity.keys import create_key, write_local_key
from assistant.live.session import ArticleCatalog, LiveOptions
from assistant.service.app import ServiceOptions, create_app
from assistant.speech.audio import encode_mulaw

TEST_HOSTS = ("testserver",)  # the Host the ASGI test client sends


def make_app(tmp_path: Path, **overrides):  # noqa: ANN003, ANN201
    overrides.setdefault("allowed_hosts", TEST_HOSTS)
    opts = ServiceOptions(db=str(tmp_path / "svc.duckdb"), live=LiveOptions(), **overrides)
    return create_app(processor=fake_processor(), options=opts, catalog=ArticleCatalog.load())


class AuthedClient(TestClient):
    """The ASGI test client of the service, sending the local admin key (every role and scope) once
    the service has started; `as_user` / `as_key` give headers of a narrower principal."""

    def __enter__(self) -> AuthedClient:
        super().__enter__()
        path = write_local_key(self.app.state.hub.cursor())
        self.headers["Authorization"] = f"Bearer {path.read_text().strip()}"
        return self


def as_user(c: TestClient, name: str, *roles: str) -> dict[str, str]:
    """Headers of a signed-in person with `roles` (made now if new; no password: no argon2 cost)."""
    con = c.app.state.hub.cursor()
    if storage.get_user(con, name) is None:
        storage.save_user(con, name, roles, "", "local")
    session = open_session(con, storage.get_user(con, name))
    return {"Authorization": f"Bearer {session.token}"}


def as_key(c: TestClient, *scopes: str) -> dict[str, str]:
    """Headers of a new API key with `scopes`."""
    made = create_key(c.app.state.hub.cursor(), scopes, by="test")
    return {"Authorization": f"Bearer {made.key}"}


def hub(c: TestClient):  # noqa: ANN201
    return c.app.state.hub


def twilio_messages(
    call_id: str = "CA1", tracks: dict[str, np.ndarray] | None = None, agent: str | None = None
) -> list[str]:
    """A Twilio media stream of a call (`agent`: the agent named in the start's customParameters)."""
    tracks = tracks or conversation(8000)
    custom = {"customParameters": {"agent": agent}} if agent else {}
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
                    **custom,
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


def all_events(c: TestClient, call_id: str) -> list[dict]:
    assert hub(c).drain(30)
    body = c.get(f"/calls/{call_id}/events", params={"cursor": 0}).json()
    return body["events"]


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


def store_digest(c: TestClient, day: str = "2026-03-02"):  # noqa: ANN201
    """Store a one-topic digest through the service's connection; returns the `Digest`."""
    import datetime as dt

    from assistant.digest.build import save
    from assistant.digest.model import Digest, Topic

    topic = Topic(
        topic_id="t1", label="Lost EBT card", calls=3, share=0.75, change=None, previous_mean=None,
        emerging=True, knowledge_gap=0.67, gap_calls=2, sentiment=-0.2, resolved_share=0.33,
        median_handle_time=180.0, languages={"en": 2, "es": 1}, rank=1,
        quotes=('I lost my card, it said "blocked"',),  # a comma and quotes: CSV must escape them
    )  # fmt: skip
    digest = Digest(
        date=dt.date.fromisoformat(day), method_version="test-1", total_calls=4, no_answer_share=0.5,
        languages={"en": 3, "es": 1}, topics=(topic,), text="Four calls, mostly about a lost EBT card.",
    )  # fmt: skip
    save(hub(c).cursor(), digest, [])
    return digest


def wait_healthy(url: str, server, seconds: float = 120.0) -> None:  # noqa: ANN001
    """Wait until the service process `server` answers `url`/health (it must not die meanwhile)."""
    import time

    import httpx

    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None and time.monotonic() < deadline, "service did not start"
        time.sleep(0.3)
