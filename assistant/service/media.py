"""The media WebSockets: Twilio Media Streams JSON at /media, raw 16 kHz PCM16 at /media/raw.

Twilio's messages: `connected`, `start` (streamSid, callSid, tracks, customParameters), `media`
(track inbound|outbound, base64 8 kHz mu-law payload), `mark`, `stop`; inbound is the caller,
outbound the agent. Routing rides in the start's `customParameters` (raw: the query string):
`agent` (who handles the call; only they and supervisors may read it), `queue` (where it was
routed) and `language` (the caller's language, when the platform knows it: set as if the agent
had chosen it). A malformed value refuses the call (1008). Faults and what happens:

- before `start`, anything but `connected`/`start` closes the socket (1008, "expected start");
- malformed JSON, bad base64, an empty or oversize payload, an unknown track: the frame is dropped
  and counted (`rejected` in status events); 100 bad frames in a row close the socket (1007);
- unknown event types (Twilio adds some, e.g. `dtmf`) are ignored;
- a second `start` on one socket is ignored; a `start` for a call already streaming is refused
  (1008); more than `max_calls` calls are refused (1013, "too many concurrent calls");
- a message larger than `max_frame_bytes` closes the socket (1009), as does a sender above
  `max_frames_per_second` (1008);
- `stop` or a vanished client ends the call: open utterances become finals, then the summary;
- a socket that sends no `start` within `start_timeout` seconds, or nothing at all for
  `idle_timeout` seconds (a half-open connection), is closed (1008) and frees its call slot;
- audio more than `realtime_slack` seconds ahead of real time is not read until real time catches
  up (the sender is held back by the socket), so one fast client cannot flood the model worker.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.errors import InputError, check_text
from assistant.language.detect import normalize_code
from assistant.service.hub import CallLimitReached
from assistant.speech.audio import Upsampler

if TYPE_CHECKING:
    from fastapi import WebSocket

    from assistant.live.session import LiveCall
    from assistant.service.hub import CallHub

TRACKS = {"inbound": "caller", "outbound": "agent", "inbound_track": "caller", "outbound_track": "agent"}
MAX_BAD_IN_A_ROW = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_MULAW_PAYLOAD = 8000  # one second of 8 kHz mu-law; Twilio sends 160 bytes (20 ms)


@dataclass
class Limits:
    """Attributes: max_frame_bytes (per message), max_frames_per_second (per connection),
    start_timeout and idle_timeout (seconds), realtime_slack (seconds of audio a call may run
    ahead of the wall clock). None: no timeout or pacing, for in-process use and tests that pause
    a stream on purpose; the service takes all three from its settings (`ServiceOptions.from_config`)."""

    max_frame_bytes: int = 65536
    max_frames_per_second: int = 2000
    start_timeout: float | None = None
    idle_timeout: float | None = None
    realtime_slack: float | None = None


def pace_delay(audio_seconds: float, elapsed: float, slack: float | None) -> float:
    """Seconds to wait so a call's audio stays within `slack` of real time (0: no wait)."""
    if slack is None:
        return 0.0
    return max(0.0, audio_seconds - elapsed - slack)


class Pacer:
    """Holds one call's reader back when its audio runs ahead of real time."""

    def __init__(self, slack: float | None) -> None:
        self.slack = slack
        self.begin = time.monotonic()

    async def wait(self, call: LiveCall) -> None:
        delay = pace_delay(call.duration, time.monotonic() - self.begin, self.slack)
        if delay > 0:
            await asyncio.sleep(delay)


class Closed(Exception):
    """Close the socket with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RateGate:
    """A token bucket of one second's worth of frames."""

    def __init__(self, per_second: int) -> None:
        self.rate = float(per_second)
        self.tokens = float(per_second)
        self.last = time.monotonic()

    def take(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1.0:
            raise Closed(1008, f"too many frames (limit {int(self.rate)} per second)")
        self.tokens -= 1.0


def decode_mulaw_payload(payload: Any, upsampler: Upsampler) -> np.ndarray:
    """A base64 mu-law payload to 16 kHz float32; InputError when it is not one. Frames of one
    track go through that track's `upsampler`, so they join up as one signal."""

    if not isinstance(payload, str) or not payload:
        raise InputError("media payload missing")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("media payload is not base64") from None
    if not 0 < len(raw) <= MAX_MULAW_PAYLOAD:
        raise InputError(f"media payload of {len(raw)} bytes is not a mu-law frame (1..{MAX_MULAW_PAYLOAD})")
    return upsampler(raw)


def check_name(value: Any, what: str = "agent") -> str | None:
    """A valid agent (or queue) name, or None when not given; InputError for a malformed one."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InputError(f"the {what} name must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def check_language(language: Any) -> str | None:
    """A language code (normalised) or None; InputError for anything else."""
    if language is None or language == "":
        return None
    if not isinstance(language, str) or len(language) > 16:
        raise InputError("the language must be a language code such as en or es")
    return str(normalize_code(language))


@dataclass(frozen=True)
class Routing:
    """Who and where a call is for: from Twilio's customParameters or the raw socket's query."""

    agent: str | None = None
    queue: str | None = None
    language: str | None = None

    @classmethod
    def from_params(cls, params: Any) -> Routing:
        params = params if isinstance(params, dict) else {}
        return cls(
            check_name(params.get("agent"), "agent"),
            check_name(params.get("queue"), "queue"),
            check_language(params.get("language")),
        )


def routing_from_start(msg: dict[str, Any]) -> Routing:
    start = msg.get("start")
    return Routing.from_params(start.get("customParameters") if isinstance(start, dict) else None)


def call_id_from_start(msg: dict[str, Any]) -> str:
    start = msg.get("start")
    if not isinstance(start, dict):
        raise InputError("start message has no 'start' object")
    custom = start.get("customParameters")
    params: dict[str, Any] = custom if isinstance(custom, dict) else {}
    call_id = params.get("call_id") or start.get("callSid") or msg.get("streamSid") or start.get("streamSid")
    if not isinstance(call_id, str) or not call_id.strip():
        raise InputError("start message names no call (callSid, streamSid or customParameters.call_id)")
    return check_text(call_id.strip()[:128], "the call id")


async def safe_close(ws: WebSocket, code: int, reason: str) -> None:
    """Close unless the client is already gone."""
    with contextlib.suppress(Exception):  # a vanished client cannot be told anything
        await ws.close(code, reason[:120])


async def _receive(
    ws: WebSocket, limits: Limits, gate: RateGate, started: bool = True
) -> tuple[str | None, bytes | None]:
    """The next message (text or bytes); None, None when the client went away. A socket silent
    for longer than the start (before `start`) or idle timeout is closed."""
    timeout = limits.idle_timeout if started else limits.start_timeout
    try:
        # asyncio.timeout, not wait_for: wait_for wraps every receive in a new task, and this runs
        # for every 20 ms frame of every call on the one event loop
        async with asyncio.timeout(timeout):
            msg = await ws.receive()
    except TimeoutError:
        if started:
            raise Closed(1008, f"no message for {timeout or 0:g} s (idle timeout)") from None
        raise Closed(1008, f"no start within {timeout or 0:g} s (start timeout)") from None
    if msg["type"] == "websocket.disconnect":
        return None, None
    text, data = msg.get("text"), msg.get("bytes")
    size = len(text.encode("utf-8")) if text is not None else len(data or b"")
    if size > limits.max_frame_bytes:
        raise Closed(1009, f"frame of {size} bytes is larger than {limits.max_frame_bytes}")
    gate.take()
    return text, data


def _reject(call: LiveCall, bad_in_a_row: int) -> int:
    call.rejected_frames += 1
    if bad_in_a_row + 1 >= MAX_BAD_IN_A_ROW:
        raise Closed(1007, f"{MAX_BAD_IN_A_ROW} malformed frames in a row")
    return bad_in_a_row + 1


async def twilio_stream(ws: WebSocket, hub: CallHub, limits: Limits) -> None:
    """Serve one Twilio Media Streams connection."""
    gate = RateGate(limits.max_frames_per_second)
    call: LiveCall | None = None
    pacer = Pacer(limits.realtime_slack)
    bad = 0
    stopped = False
    upsamplers: dict[str, Upsampler] = {}  # per track: its frames are one continuous signal
    try:
        while True:
            text, _data = await _receive(ws, limits, gate, started=call is not None)
            if text is None and _data is None:
                break
            try:
                msg = json.loads(text) if text is not None else None
                if not isinstance(msg, dict):
                    raise ValueError("not a JSON object")
            except ValueError:
                if call is None:
                    raise Closed(1007, "malformed JSON (expected a Twilio media stream message)") from None
                bad = _reject(call, bad)
                continue
            event = msg.get("event")
            if call is None:
                if event == "connected":
                    continue
                if event != "start":
                    raise Closed(1008, f"expected start before {event!r}")
                try:
                    call_id = call_id_from_start(msg)
                    route = routing_from_start(msg)
                    call = hub.open_call(
                        call_id, agent=route.agent, queue=route.queue, language=route.language
                    )
                    pacer = Pacer(limits.realtime_slack)
                except InputError as exc:
                    raise Closed(1013 if isinstance(exc, CallLimitReached) else 1008, str(exc)) from None
                continue
            if event == "media":
                raw_media = msg.get("media")
                media: dict[str, Any] = raw_media if isinstance(raw_media, dict) else {}
                speaker = TRACKS.get(str(media.get("track", "inbound")))
                try:
                    if speaker is None:
                        raise InputError(f"unknown track {media.get('track')!r}")
                    if speaker not in upsamplers:
                        upsamplers[speaker] = Upsampler()
                    samples = decode_mulaw_payload(media.get("payload"), upsamplers[speaker])
                except InputError:
                    bad = _reject(call, bad)
                    continue
                bad = 0
                if call.state == "live":
                    hub.feed(call, speaker, samples)
                    await pacer.wait(call)
            elif event == "stop":
                stopped = True
                break
            elif event == "start":
                call.rejected_frames += 1  # a second start for this stream: keep the first
            # connected, mark, dtmf and future events carry nothing we need
    except Closed as exc:
        await safe_close(ws, exc.code, exc.reason[:120])
        return
    finally:
        if call is not None:
            hub.end_call(call)
    if stopped:
        await safe_close(ws, 1000, "call ended")


async def raw_stream(
    ws: WebSocket, hub: CallHub, limits: Limits, params: dict[str, str], agent_left: bool
) -> None:
    """Serve one raw connection: binary PCM16 16 kHz frames, mono (`speaker`) or stereo
    (`channels=2`, interleaved; the agent on the `agent_channel`)."""
    gate = RateGate(limits.max_frames_per_second)
    call_id = (params.get("call_id") or "").strip()
    channels = params.get("channels", "1")
    speaker = params.get("speaker", "caller")
    if not call_id:
        await safe_close(ws, 1008, "call_id is required in the query string")
        return
    if channels not in ("1", "2") or speaker not in ("caller", "agent"):
        await safe_close(ws, 1008, "channels must be 1 or 2 and speaker caller or agent")
        return
    try:
        route = Routing.from_params(params)
        call = hub.open_call(call_id[:128], agent=route.agent, queue=route.queue, language=route.language)
    except InputError as exc:
        await safe_close(ws, 1013 if isinstance(exc, CallLimitReached) else 1008, str(exc)[:120])
        return
    width = 2 * int(channels)
    pacer = Pacer(limits.realtime_slack)
    bad = 0
    gone = False
    try:
        while True:
            text, data = await _receive(ws, limits, gate)
            if text is None and data is None:
                gone = True
                break
            if text is not None:
                if text.strip() in ('{"event": "stop"}', '{"event":"stop"}', "stop"):
                    break
                bad = _reject(call, bad)
                continue
            if not data or len(data) % width:
                bad = _reject(call, bad)
                continue
            bad = 0
            pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            if channels == "1":
                hub.feed(call, speaker, pcm)
            else:
                left, right = pcm[0::2], pcm[1::2]
                hub.feed(call, "agent", left if agent_left else right)
                hub.feed(call, "caller", right if agent_left else left)
            await pacer.wait(call)
    except Closed as exc:
        await safe_close(ws, exc.code, exc.reason[:120])
        return
    finally:
        hub.end_call(call)
    if not gone:
        await safe_close(ws, 1000, "call ended")
