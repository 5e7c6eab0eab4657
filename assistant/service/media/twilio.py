"""Twilio Media Streams at /media: JSON text messages.

`connected`, `start` (streamSid, callSid, tracks, customParameters), `media` (track
inbound|outbound, base64 8 kHz mu-law payload), `mark`, `stop`; inbound is the caller, outbound
the agent. Routing rides in the start's `customParameters`: `agent` (who handles the call; only
they and supervisors may read it), `queue` (where it was routed) and `language` (the caller's
language, when the platform knows it: set as if the agent had chosen it). Unknown event types
(Twilio adds some, e.g. `dtmf`) are ignored. Twilio takes no replies we need.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import numpy as np

from assistant.errors import InputError, check_text
from assistant.service.media.events import Audio, Closed, Event, Routing, Start, Stop, load_json
from assistant.speech.audio import Upsampler

TRACKS = {"inbound": "caller", "outbound": "agent", "inbound_track": "caller", "outbound_track": "agent"}
MAX_MULAW_PAYLOAD = 8000  # one second of 8 kHz mu-law; Twilio sends 160 bytes (20 ms)


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


class TwilioSerializer:
    """Twilio Media Streams messages to events."""

    name = "twilio"
    replies = False

    def __init__(self) -> None:
        self.started = False
        self.upsamplers: dict[str, Upsampler] = {}  # per track: its frames are one continuous signal

    def deserialize(self, text: str | None, data: bytes | None) -> list[Event]:
        if text is None:
            raise InputError("Twilio media streams send text messages")
        try:
            msg = load_json(text)
        except InputError as exc:
            raise InputError(f"{exc} (expected a Twilio media stream message)") from None
        if not isinstance(msg, dict):
            raise InputError("malformed JSON (expected a Twilio media stream message)")
        event = msg.get("event")
        if not self.started:
            if event == "connected":
                return []
            if event != "start":
                raise Closed(1008, f"expected start before {event!r}")
            try:
                start = Start(call_id_from_start(msg), routing_from_start(msg))
            except InputError as exc:
                raise Closed(1008, str(exc)) from None
            self.started = True
            return [start]
        if event == "media":
            raw_media = msg.get("media")
            media: dict[str, Any] = raw_media if isinstance(raw_media, dict) else {}
            speaker = TRACKS.get(str(media.get("track", "inbound")))
            if speaker is None:
                raise InputError(f"unknown track {media.get('track')!r}")
            if speaker not in self.upsamplers:
                self.upsamplers[speaker] = Upsampler()
            return [Audio(speaker, decode_mulaw_payload(media.get("payload"), self.upsamplers[speaker]))]
        if event == "stop":
            return [Stop()]
        if event == "start":
            return [Start("")]  # a second start: the loop keeps the first and counts it
        return []  # connected, mark, dtmf and future events carry nothing we need

    def serialize(self, event: dict[str, Any]) -> str | None:
        return None
