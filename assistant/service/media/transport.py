"""The one transport loop every media socket runs, whatever its wire format (`events.Serializer`).

Faults and what happens, for every format:

- before the call starts, a malformed message closes the socket (1007), anything but the format's
  start closes it (1008); a malformed `customParameters`/`customConfig` value refuses the call (1008);
- after it, a malformed frame (bad JSON, JSON nested deeper than 32 levels, bad base64, an empty or
  oversize payload, an unknown track) is dropped and counted (`rejected` in status events); 100 bad
  frames in a row close the socket (1007);
- a call already streaming is refused (1008); more than `max_calls` calls, or more than a key's
  share of them (`media_key_share`), are refused (1013, "too many concurrent calls");
- a message larger than `max_frame_bytes` closes the socket (1009), as does a sender above
  `max_frames_per_second` (1008);
- the end of the call (the format's stop, or a vanished client) ends the call: open utterances
  become finals, then the summary;
- a socket that does not start within `start_timeout` seconds, sends nothing at all for
  `idle_timeout` seconds (a half-open connection), or carries no speech for `silence_timeout`
  seconds of wall time (a socket holding a call slot with a silent frame now and then; time the
  platform paused the stream does not count) is closed (1008) and frees its call slot;
- audio more than `realtime_slack` seconds ahead of real time is not read until real time catches
  up (the sender is held back by the socket), so one fast client cannot flood the model worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from asyncio import CancelledError, Lock, Task, create_task
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.errors import InputError
from assistant.service.hub import CallLimitReached
from assistant.service.media.events import Audio, Closed, Gap, Mark, Reply, Serializer, Start, Stop
from assistant.speech.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from fastapi import WebSocket

    from assistant.live.session import LiveCall
    from assistant.service.hub import CallHub

MAX_BAD_IN_A_ROW = 100
MAX_GAP_SECONDS = 600.0  # a discarded stretch longer than this is not filled in
DRAIN_SECONDS = 8.0  # how long a closing call waits for its last finals (AudioHook's client waits 10)


@dataclass
class Limits:
    """Attributes: max_frame_bytes (per message), max_frames_per_second (per connection),
    start_timeout, idle_timeout and silence_timeout (seconds), realtime_slack (seconds of audio a
    call may run ahead of the wall clock), key_share (the share of `max_calls` one key may hold).
    None: no timeout or pacing, for in-process use and tests that pause a stream on purpose; the
    service takes them from its settings (`ServiceOptions.from_config`)."""

    max_frame_bytes: int = 65536
    max_frames_per_second: int = 2000
    start_timeout: float | None = None
    idle_timeout: float | None = None
    realtime_slack: float | None = None
    silence_timeout: float | None = None
    key_share: float = 1.0


@dataclass
class KeySlots:
    """Live media sockets per key, so one key cannot hold every call slot."""

    held: Counter[str] = field(default_factory=Counter)

    def take(self, key: str | None, max_calls: int, share: float) -> None:
        if key is None or share >= 1.0:
            return
        cap = max(1, math.ceil(max_calls * share))
        if self.held[key] >= cap:
            raise CallLimitReached(f"too many concurrent calls for key {key} (max {cap}); try again later")
        self.held[key] += 1

    def give(self, key: str | None, share: float) -> None:
        if key is not None and share < 1.0 and self.held[key] > 0:
            self.held[key] -= 1


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


async def safe_close(ws: WebSocket, code: int, reason: str) -> None:
    """Close unless the client is already gone."""
    with contextlib.suppress(Exception):  # a vanished client cannot be told anything
        await ws.close(code, reason[:120])


async def _receive(
    ws: WebSocket, limits: Limits, gate: RateGate, started: bool = True
) -> tuple[str | None, bytes | None]:
    """The next message (text or bytes); None, None when the client went away. A socket silent
    for longer than the start (before the call starts) or idle timeout is closed."""
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


class Stream:
    """One socket's call as the loop drives it: the call, its replies, its silence clock."""

    def __init__(self, ws: WebSocket, hub: CallHub, limits: Limits, serializer: Serializer) -> None:
        self.ws, self.hub, self.limits, self.serializer = ws, hub, limits, serializer
        self.call: LiveCall | None = None
        self.started = False  # a start was accepted (a probe starts no call)
        self.pacer = Pacer(limits.realtime_slack)
        self.cursor = 0  # the call's events forwarded so far
        self.send_lock = Lock()
        self.heard = time.monotonic()  # wall time speech was last heard (or the stream resumed)
        self.paused = False

    async def send(self, text: str) -> None:
        async with self.send_lock:
            await self.ws.send_text(text)

    async def forward(self) -> None:
        """The call's new events, as the serializer puts them, in order."""
        if self.call is None or not self.serializer.replies:
            return
        async with self.send_lock:
            found, self.cursor = self.call.events_since(self.cursor)
            for event in found:
                out = self.serializer.serialize(event)
                if out is not None:
                    await self.ws.send_text(out)

    def check_silence(self) -> None:
        call, timeout = self.call, self.limits.silence_timeout
        if call is None or timeout is None:
            return
        now = time.monotonic()
        if self.paused or any(t.speaking for t in call.tracks.values()):
            self.heard = now
        elif now - self.heard > timeout:
            raise Closed(1008, f"no speech for {timeout:g} s (silence timeout)")

    async def handle(self, event: object) -> bool:
        """Act on one event; True when the stream ends."""
        hub = self.hub
        if isinstance(event, Reply):
            await self.send(event.text)
        elif isinstance(event, Start):
            if self.started:
                if self.call is not None:
                    self.call.rejected_frames += 1  # a second start for this stream: keep the first
                return False
            self.started = True
            if not event.probe:
                route = event.routing
                self.call = hub.open_call(
                    event.call_id,
                    endpoint_silence=event.endpoint_silence,
                    source=event.source,
                    agent=route.agent,
                    queue=route.queue,
                    language=route.language,
                )
                self.pacer = Pacer(self.limits.realtime_slack)
                self.heard = time.monotonic()
        elif isinstance(event, Stop):
            return True
        elif self.call is None:
            pass  # audio of a probe, or before the start: nothing to feed
        elif isinstance(event, Audio):
            if self.call.state == "live":
                hub.feed(self.call, event.speaker, event.samples)
                await self.pacer.wait(self.call)
        elif isinstance(event, Mark):
            self.paused = event.name == "paused"
            self.heard = time.monotonic()
            if event.language:
                self.call.language.override(event.language)
            hub.cut(self.call)
        elif isinstance(event, Gap):
            self._fill(event.seconds)
        return False

    def _fill(self, seconds: float) -> None:
        """Positions move on over discarded audio: each channel gets that much silence, so the
        call's clock stays the stream's."""
        assert self.call is not None
        n = int(min(seconds, MAX_GAP_SECONDS) * SAMPLE_RATE)
        if n <= 0:
            return
        for speaker in list(self.call.tracks) or ["caller"]:
            self.hub.feed(self.call, speaker, np.zeros(n, dtype=np.float32))

    async def drain(self) -> None:
        """After the stop: end the call and, for a format with replies, send its last finals."""
        call = self.call
        if call is None:
            return
        self.hub.end_call(call)
        if not self.serializer.replies:
            return
        deadline = time.monotonic() + DRAIN_SECONDS
        while call.state in ("live", "ending") and time.monotonic() < deadline:
            await self.forward()
            await asyncio.sleep(0.05)
        await self.forward()


async def _pump(stream: Stream) -> None:
    """Forwards the call's events while the socket waits for the platform (a paused stream)."""
    while True:
        await asyncio.sleep(0.1)
        await stream.forward()


def _reject(call: LiveCall | None, bad_in_a_row: int) -> int:
    if call is not None:
        call.rejected_frames += 1
    if bad_in_a_row + 1 >= MAX_BAD_IN_A_ROW:
        raise Closed(1007, f"{MAX_BAD_IN_A_ROW} malformed frames in a row")
    return bad_in_a_row + 1


async def serve(
    ws: WebSocket,
    hub: CallHub,
    limits: Limits,
    serializer: Serializer,
    *,
    key: str | None = None,
    slots: KeySlots | None = None,
    opening: Start | None = None,
) -> None:
    """Serve one media socket in `serializer`'s wire format; `key` names the API key it came with
    (for its share of call slots); `opening`: the start, when the socket's URL carries it."""
    gate = RateGate(limits.max_frames_per_second)
    stream = Stream(ws, hub, limits, serializer)
    slots = slots or KeySlots()
    holding = False
    pump: Task[None] | None = None
    bad = 0
    ended = False
    try:
        if opening is not None:
            slots.take(key, hub.max_calls, limits.key_share)
            holding = True
            await stream.handle(opening)
        while True:
            text, data = await _receive(ws, limits, gate, started=stream.started)
            if text is None and data is None:
                break
            try:
                events = serializer.deserialize(text, data)
            except InputError as exc:
                if not stream.started:
                    raise Closed(1007, str(exc)) from None
                bad = _reject(stream.call, bad)
                continue
            bad = 0
            for event in events:
                if isinstance(event, Start) and not stream.started and not event.probe:
                    slots.take(key, hub.max_calls, limits.key_share)
                    holding = True
                if await stream.handle(event):
                    ended = True
                    break
            if ended:
                break
            stream.check_silence()
            if serializer.replies and stream.call is not None and pump is None:
                pump = create_task(_pump(stream))
    except InputError as exc:  # refused at the start: a malformed value, or no slot
        await safe_close(ws, 1013 if isinstance(exc, CallLimitReached) else 1008, str(exc))
        return
    except Closed as exc:
        await safe_close(ws, exc.code, exc.reason)
        return
    finally:
        if pump is not None:
            pump.cancel()
            with contextlib.suppress(CancelledError, Exception):
                await pump
        if holding:
            slots.give(key, limits.key_share)
        if not ended and stream.call is not None:
            hub.end_call(stream.call)
    if ended:
        await stream.drain()
        closing = serializer.serialize({"type": "closed"}) if serializer.replies else None
        if closing is not None:
            with contextlib.suppress(Exception):  # the platform may be gone already
                await stream.send(closing)
        await safe_close(ws, 1000, "call ended")
