"""A telephony platform in a box: streams a recording to the service's media socket in 20 ms
frames (Twilio Media Streams JSON, raw PCM16, or Genesys AudioHook with its signed upgrade and
transcripts back) and watches the call's events come back.

Used by `assistant simulate-call` and `bench/live.py`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import numpy as np

from assistant import config
from assistant.errors import AssistantError, InputError
from assistant.identity.keys import local_client_secret, read_local_key
from assistant.privacy.gate import new_call_id
from assistant.service.client import ServiceClient, ServiceUnavailable
from assistant.service.media.audiohook import call_id_for
from assistant.service.sim_audiohook import Session, signed_headers, stereo_frames
from assistant.speech.audio import AudioOptions, encode_mulaw, load_tracks, resample

UNREACHABLE_WAIT = 15.0  # after the call: how long an unreachable service is waited for


@dataclass
class SimOptions:
    """How to simulate.

    Attributes:
        url: the media socket (default ws://127.0.0.1:8700/media; /media/raw for raw).
        realtime: pace frames at real time; else send as fast as the socket takes them.
        media_format: twilio, raw or audiohook.
        echo: print captions and suggestions as they arrive.
        loop_to: repeat the recording until it is this many seconds long (load tests).
        token: bearer token (default: the api_token setting); AudioHook's API key.
        client_secret: AudioHook's base-64 client secret (default: the local admin key's, as this
            machine's service derives it).
        poll: seconds between event polls.
        params: routing sent with the call (agent, queue, language ...): Twilio's
            `customParameters`, or the raw socket's query string.
    """

    url: str | None = None
    realtime: bool = True
    media_format: str = "twilio"
    echo: bool = True
    loop_to: float | None = None
    token: str | None = None
    client_secret: str | None = None
    poll: float = 0.1
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class SimResult:
    """What came back for one simulated call; `events` pairs each event with the wall time it was
    first seen, `t0` is the wall time the first frame was sent."""

    call_id: str
    t0: float = 0.0
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    close: str = ""
    stored: bool = False
    transcripts: list[dict[str, Any]] = field(default_factory=list)  # AudioHook: sent back

    @property
    def finals(self) -> int:
        return sum(1 for _, e in self.events if e["type"] == "caption" and e["data"]["final"])

    @property
    def partials(self) -> int:
        return sum(1 for _, e in self.events if e["type"] == "caption" and not e["data"]["final"])

    @property
    def suggestions(self) -> list[str]:
        return [e["data"]["article_id"] or "no answer" for _, e in self.events if e["type"] == "suggestion"]


def load_frames(path: str, loop_to: float | None = None) -> dict[str, np.ndarray]:
    """Tracks at 8 kHz (agent, caller), optionally looped to a length."""

    tracks = load_tracks(path, AudioOptions(agent_channel=config.get().agent_channel))
    out = {
        ("caller" if t.speaker == "unknown" else t.speaker): resample(t.samples, 16000, 8000) for t in tracks
    }
    length = max(len(v) for v in out.values())
    out = {k: np.pad(v, (0, length - len(v))) for k, v in out.items()}
    if loop_to:
        reps = int(np.ceil(loop_to * 8000 / length))
        out = {k: np.tile(v, reps)[: int(loop_to * 8000)] for k, v in out.items()}
    return out


def _http_base(url: str) -> str:
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "wss" else "http"
    return f"{scheme}://{parts.netloc}"


def simulate(
    path: str, options: SimOptions, call_id: str | None = None, frames: dict | None = None
) -> SimResult:
    """Stream one call and collect its events until the service has stored it."""
    from websockets.exceptions import ConnectionClosed

    raw = options.media_format == "raw"
    hook = options.media_format == "audiohook"
    route = {"raw": "/media/raw", "audiohook": "/audiohook"}.get(options.media_format, "/media")
    url = options.url or f"ws://127.0.0.1:8700{route}"
    conversation = str(uuid.uuid4())
    call_id = call_id_for(conversation) if hook else (call_id or new_call_id("sim"))
    frames = frames if frames is not None else load_frames(path, options.loop_to)
    token = options.token if options.token is not None else (config.get().api_token or read_local_key())
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    result = SimResult(call_id)
    client = ServiceClient(_http_base(url), token=token)
    done = threading.Event()

    def watch() -> None:
        cursor = 0
        unreachable_since = None
        while True:
            try:
                events, cursor = client.events(call_id, cursor)
                unreachable_since = None
            except InputError:
                events = []  # not started yet
            except ServiceUnavailable:
                events = []
                unreachable_since = unreachable_since or time.monotonic()
                if done.is_set() and time.monotonic() - unreachable_since > UNREACHABLE_WAIT:
                    return  # the service went away after the call: get_call below says so
            now = time.monotonic()
            for e in events:
                result.events.append((now, e))
                if options.echo:
                    _echo(call_id, e)
            if any(e["type"] == "status" and e["data"]["state"] in ("ended", "interrupted") for e in events):
                return
            if done.is_set() and time.monotonic() > deadline[0]:
                return
            time.sleep(options.poll)

    deadline = [float("inf")]
    watcher = threading.Thread(target=watch, daemon=True)
    speakers = list(frames)
    length = len(frames[speakers[0]])
    query = {
        "call_id": call_id,
        "channels": "2",
        **{k: v for k, v in options.params.items() if k != "call_id"},
    }
    target = url + (f"?{urlencode(query)}" if raw else "")
    session = Session()
    if hook:
        if not token:
            raise InputError("AudioHook needs an API key", hint="pass --api-key and --client-secret")
        secret = options.client_secret or local_client_secret(token)
        headers = signed_headers(url, token, secret, session.session_id)
    ws = _connect(target, url, headers)
    with ws, _lost_service(url, call_id):
        if hook:
            watcher.start()
            result.t0 = time.monotonic()
            _audiohook_call(ws, session, conversation, frames, options, result)
        elif not raw:
            ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            ws.send(
                json.dumps(
                    {
                        "event": "start",
                        "streamSid": call_id,
                        "start": {
                            "streamSid": call_id,
                            "callSid": call_id,
                            "tracks": ["inbound", "outbound"],
                            "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
                            "customParameters": dict(options.params),
                        },
                    }
                )
            )
        # mu-law of each whole track, encoded once: per 20 ms frame it cost the load generator of
        # bench/live.py a sixth of this 2-core machine at 8 calls, time the service then lacked
        mulaw = {} if raw or hook else {speaker: encode_mulaw(frames[speaker]) for speaker in speakers}
        if not hook:
            watcher.start()
            result.t0 = time.monotonic()
        for n, pos in enumerate(range(0, 0 if hook else length, 160)):
            if raw:
                agent = frames.get("agent", np.zeros(length))[pos : pos + 160]
                caller = frames.get("caller", np.zeros(length))[pos : pos + 160]

                stereo = np.stack([resample(agent, 8000, 16000), resample(caller, 8000, 16000)], axis=1)
                ws.send((np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes())
            else:
                for speaker in speakers:
                    payload = base64.b64encode(mulaw[speaker][pos : pos + 160]).decode()
                    track = "outbound" if speaker == "agent" else "inbound"
                    ws.send(
                        json.dumps(
                            {
                                "event": "media",
                                "streamSid": call_id,
                                "media": {
                                    "track": track,
                                    "chunk": str(n),
                                    "timestamp": str(n * 20),
                                    "payload": payload,
                                },
                            }
                        )
                    )
            if options.realtime:
                time.sleep(max(0.0, result.t0 + (n + 1) * 0.02 - time.monotonic()))
        if not hook:
            ws.send(json.dumps({"event": "stop", "streamSid": call_id}) if not raw else '{"event": "stop"}')
        try:
            ws.recv(timeout=30)
        except ConnectionClosed as exc:
            if exc.rcvd is None:  # no close frame: the connection dropped, the service did not close it
                raise
            result.close = str(exc)
        except Exception as exc:  # noqa: BLE001 - the close is the answer we wait for
            result.close = str(exc)
    done.set()
    deadline[0] = time.monotonic() + 300
    watcher.join(310)
    try:
        stored = client.get_call(call_id)
        result.stored = stored.get("status") == "complete" and bool(stored.get("summary"))
    except InputError:
        result.stored = False
    except ServiceUnavailable as exc:
        raise ServiceUnavailable(
            f"call {call_id} was sent, but the service stopped answering before it was stored: {exc}"
        ) from None
    finally:
        client.close()
    return result


def _audiohook_call(
    ws: Any,
    session: Session,
    conversation: str,
    frames: dict[str, np.ndarray],
    options: SimOptions,
    result: SimResult,
) -> None:
    """One AudioHook session: open, stereo PCMU in 20 ms frames (caller external, agent
    internal), close; the transcripts that come back are kept (and echoed). Returns once the
    service has answered `closed`."""
    ws.send(session.open(conversation, dict(options.params)))
    opened = session.seen(ws.recv(timeout=30))
    if opened.get("type") != "opened":
        raise InputError(f"the service answered {opened.get('type')!r} to open: {opened.get('parameters')}")
    closed = threading.Event()

    def receive() -> None:
        with contextlib.suppress(Exception):  # the socket closes after `closed`
            while not closed.is_set():
                msg = session.seen(ws.recv())
                if msg.get("type") == "event":
                    for entity in msg["parameters"].get("entities", []):
                        if entity.get("type") == "transcript":
                            result.transcripts.append(entity["data"])
                elif msg.get("type") in ("closed", "disconnect"):
                    closed.set()

    reader = threading.Thread(target=receive, daemon=True)
    reader.start()
    silent = np.zeros(0, np.float32)
    for n, frame in enumerate(stereo_frames(frames.get("caller", silent), frames.get("agent", silent))):
        ws.send(frame)
        session.position += len(frame) / 2 / 8000
        if options.realtime:
            time.sleep(max(0.0, result.t0 + (n + 1) * 0.02 - time.monotonic()))
    ws.send(session.message("close", {"reason": "end"}))
    closed.wait(30)


def _connect(target: str, url: str, headers: dict[str, str]) -> Any:
    """Open the media socket; a refused or failed opening is a one-line error, not a traceback."""
    from websockets.exceptions import InvalidStatus, InvalidURI, WebSocketException
    from websockets.sync.client import connect

    try:
        return connect(target, additional_headers=headers, max_size=2**20, open_timeout=10)
    except InvalidURI:
        raise InputError(f"{url} is not a WebSocket address (ws://host:port/media)") from None
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise InputError(
                f"the service at {url} refused the API token (HTTP {status})", hint="set ASSISTANT_API_TOKEN"
            ) from None
        raise ServiceUnavailable(f"{url} answered HTTP {status} instead of opening a media socket") from None
    except (OSError, WebSocketException) as exc:
        raise ServiceUnavailable(
            f"cannot connect to {url}: {str(exc) or type(exc).__name__}",
            hint="start it with 'assistant serve'",
        ) from None


@contextlib.contextmanager
def _lost_service(url: str, call_id: str) -> Iterator[None]:
    """A socket that breaks mid-call (the service stopped or was killed) is a one-line error."""
    from websockets.exceptions import ConnectionClosed

    try:
        yield
    except ConnectionClosed as exc:
        if exc.rcvd is not None:  # the service closed the call itself, and said why
            reason = f"{exc.rcvd.code}" + (f": {exc.rcvd.reason}" if exc.rcvd.reason else "")
            raise AssistantError(f"the service closed call {call_id} ({reason})") from None
        raise ServiceUnavailable(
            f"the connection to {url} broke during call {call_id}: the service stopped or was stopped",
            hint="see the service's output; what it stored of the call so far is kept",
        ) from None
    except OSError as exc:
        raise ServiceUnavailable(f"the connection to {url} broke during call {call_id}: {exc}") from None


def simulate_many(path: str, options: SimOptions, n: int, spread: float = 0.0) -> list[SimResult]:
    """N calls at once, each in its own thread (the recording is decoded once). The calls start
    50 ms apart, so they speak and pause in step (the worst case for the service); `spread` > 0
    starts them evenly over that many seconds instead, as calls on a real floor begin."""
    frames = load_frames(path, options.loop_to)
    results: list[SimResult | None] = [None] * n
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            results[i] = simulate(path, options, frames=frames)
        except BaseException as exc:  # noqa: BLE001 - reported after the others finish
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    gap = spread / n if spread > 0 else 0.05
    for t in threads:
        t.start()
        time.sleep(gap)
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def _echo(call_id: str, event: dict[str, Any]) -> None:
    data = event["data"]
    if event["type"] == "caption":
        mark = "" if data["final"] else " ..."
        line = f"[{call_id} {data['start']:6.1f}s] {data['speaker']}: {data['text']}{mark}"
        if data.get("translation"):
            line += f"\n{'':>20}(machine translation) {data['translation']}"
        print(line, flush=True)
    elif event["type"] == "suggestion":
        what = (
            "no approved answer"
            if data["abstained"]
            else f"{data['article_id']} - {data['title']} ({data['confidence']})"
        )
        print(f"[{call_id}]   -> suggestion: {what}", flush=True)
    elif event["type"] == "summary":
        print(f"[{call_id}] summary: {data.get('text') or data}", flush=True)
