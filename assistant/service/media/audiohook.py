"""Genesys Cloud AudioHook (protocol version 2) at /audiohook.

Text frames are JSON `{version: "2", id, type, seq, serverseq, position, parameters}` from the
client and `{version, id, type, seq, clientseq, parameters}` back. Sequence numbers: each side
numbers its own messages 1, 2, 3, ... (`seq`); a client message carries the last server `seq` it
saw (`serverseq`) and each server message the last client `seq` (`clientseq`). A client message
out of order, for another session, or malformed is answered with `disconnect` (reason `error`).

- `open` (organizationId, conversationId, participant, media offers, language, customConfig,
  supportedLanguages): the first offer of PCMU or L16 at 8 kHz with the channels `external`
  and/or `internal` is chosen and answered in `opened` (with `supportedLanguages` when asked).
  The call is the conversation; `customConfig` routes it like Twilio's customParameters (`agent`,
  `queue`, `language`), else the open's `language`. The participant's ANI is kept only as a
  salted hash in the call's source; `aniName` and `dnis` are not kept. A nil conversation id is
  Genesys's connection probe: answered, and no call is opened or stored.
- binary frames: samples interleaved in the order of the chosen channels; `external` is the
  caller, `internal` the agent.
- `ping` -> `pong`; `update` (a new language) and `paused` end the open utterances; `paused` /
  `resumed` and `discarded` move positions on by what was not sent (the client's `position`
  against the audio received), so offsets stay on the stream's clock; `error` is counted;
  `close` ends the call, sends the last transcripts, then `closed`.
- Each final utterance goes back as an `event` with a `transcript` entity (the Transcript
  Connector): offset and duration on the stream's clock, the redacted text, Whisper's confidence
  and word tokens. Offset and duration are the speech's (the final's decoder padding, pre-roll
  and tail, taken off: an estimate within 0.2 s); word offsets are that time shared out by word
  length (the live path does not ask Whisper for word timings).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from typing import Any

import numpy as np

from assistant.errors import InputError
from assistant.live.session import LiveOptions
from assistant.service.media.events import (
    Audio,
    Event,
    Gap,
    Mark,
    Reply,
    Routing,
    Start,
    Stop,
    check_language,
    load_json,
)
from assistant.speech.audio import Upsampler, encode_mulaw

NIL_UUID = "00000000-0000-0000-0000-000000000000"
SPEAKERS = {"external": "caller", "internal": "agent"}
RATE = 8000
PRE_ROLL = LiveOptions().pre_roll  # audio kept before detected speech (`live.session`)
TAIL = 0.2  # audio kept after the last speech frame (`TrackStream._final`)
_DURATION = re.compile(r"PT(\d*\.?\d+)S")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# What `opened` lists when asked: languages Whisper transcribes here, in AudioHook's form.
SUPPORTED_LANGUAGES = (
    "en-US",
    "es-US",
    "es-ES",
    "fr-FR",
    "fr-CA",
    "de-DE",
    "pt-BR",
    "it-IT",
    "vi-VN",
    "zh-CN",
)


def duration(seconds: float) -> str:
    """Seconds as AudioHook's duration (`PT1.25S`)."""
    return f"PT{max(seconds, 0.0):.2f}S"


def parse_duration(value: Any) -> float:
    if not isinstance(value, str) or not (m := _DURATION.fullmatch(value)):
        raise InputError(f"not an AudioHook duration: {str(value)[:32]!r}")
    return float(m.group(1))


def ani_hash(ani: str, salt: bytes) -> str:
    """A caller's number as a salted hash (16 letters): the same number gives the same hash
    here, and the number cannot be read back from it."""
    digest = hmac.new(salt, ani.encode("utf-8"), hashlib.sha256).digest()
    return "".join(chr(ord("a") + b % 26) for b in digest[:16])


_TO_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def call_id_for(conversation_id: str) -> str:
    """The call id of a Genesys conversation: `gc-` and its hex digits spelled as letters
    (0-9 as g-p), so the privacy gate keeps it as is (a UUID holds too many digits for an id)
    and it maps back to the conversation."""
    return "gc-" + uuid.UUID(conversation_id).hex.translate(_TO_LETTERS)


def choose_media(offers: Any) -> dict[str, Any] | None:
    """The first offer this service can take (PCMU or L16, 8 kHz, external and/or internal)."""
    for offer in offers if isinstance(offers, list) else []:
        if not isinstance(offer, dict):
            continue
        channels = offer.get("channels")
        if (
            offer.get("type") == "audio"
            and offer.get("format") in ("PCMU", "L16")
            and offer.get("rate") == RATE
            and isinstance(channels, list)
            and 0 < len(channels) <= 2
            and len(set(map(str, channels))) == len(channels)
            and all(c in SPEAKERS for c in channels)
        ):
            return {"type": "audio", "format": offer["format"], "channels": list(channels), "rate": RATE}
    return None


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class AudioHookSerializer:
    """One AudioHook session: its sequence numbers, chosen media and position."""

    name = "audiohook"
    replies = True

    def __init__(self, session_id: str, salt: bytes, endpoint_silence: float | None = None) -> None:
        self.id = session_id
        self.salt = salt
        self.endpoint_silence = endpoint_silence
        self.seq = 0  # the last server message's seq
        self.clientseq = 0  # the last client message's seq
        self.state = "new"  # new -> open -> closing
        self.media: dict[str, Any] | None = None
        self.received = 0.0  # seconds of stream accounted for (audio received + gaps)
        self.errors = 0  # `error` messages the client sent
        self._upsamplers: list[Upsampler] = []

    # -- out -----------------------------------------------------------------------------------
    def message(self, kind: str, parameters: dict[str, Any]) -> str:
        self.seq += 1
        return json.dumps(
            {
                "version": "2",
                "id": self.id,
                "type": kind,
                "seq": self.seq,
                "clientseq": self.clientseq,
                "parameters": parameters,
            }
        )

    def _disconnect(self, info: str) -> list[Event]:
        return [Reply(self.message("disconnect", {"reason": "error", "info": info[:200]}))]

    def serialize(self, event: dict[str, Any]) -> str | None:
        if event.get("type") == "closed":
            return self.message("closed", {})
        data = event.get("data") or {}
        if event.get("type") != "caption" or not data.get("final") or self.media is None:
            return None
        return self.message("event", {"entities": [{"type": "transcript", "data": self.transcript(data)}]})

    def transcript(self, caption: dict[str, Any]) -> dict[str, Any]:
        """A final caption as a Transcript Connector entity."""
        channels: list[str] = self.media["channels"] if self.media else ["external"]
        channel = "internal" if caption.get("speaker") == "agent" else "external"
        # A final's audio is padded for the decoder (pre-roll before the speech, a short tail
        # after it); the transcript gives the speech itself.
        start = float(caption.get("start") or 0.0)
        end = max(float(caption.get("end") or start), start)
        if start > 0:
            start = min(start + PRE_ROLL, end)
        end = max(end - TAIL, start + min(0.1, end - start))
        text = str(caption.get("text") or "")
        confidence = float(caption.get("confidence") or 0.0)
        words = text.split()
        total = sum(len(w) for w in words) or 1
        tokens, at = [], start
        for word in words:
            span = (end - start) * len(word) / total
            tokens.append(
                {
                    "type": "word",
                    "value": word,
                    "confidence": confidence,
                    "offset": duration(at),
                    "duration": duration(span),
                }
            )
            at += span
        alternative: dict[str, Any] = {
            "confidence": confidence,
            "interpretations": [{"type": "display", "transcript": text, "tokens": tokens}],
        }
        if caption.get("language"):
            alternative["languages"] = [str(caption["language"])]
        return {
            "id": str(uuid.uuid4()),
            "channelId": channels.index(channel) if channel in channels else 0,
            "isFinal": True,
            "offset": duration(start),
            "duration": duration(end - start),
            "alternatives": [alternative],
        }

    # -- in ------------------------------------------------------------------------------------
    def deserialize(self, text: str | None, data: bytes | None) -> list[Event]:
        if text is None:
            return self._audio(data or b"")
        try:
            msg = load_json(text)
        except InputError as exc:
            return self._disconnect(str(exc))
        if not isinstance(msg, dict) or msg.get("version") != "2" or not isinstance(msg.get("type"), str):
            return self._disconnect("not an AudioHook version 2 message")
        seq, serverseq = msg.get("seq"), msg.get("serverseq")
        if not isinstance(seq, int) or seq != self.clientseq + 1:
            return self._disconnect(f"seq {seq!r} out of order (expected {self.clientseq + 1})")
        self.clientseq = seq
        if not isinstance(serverseq, int) or not 0 <= serverseq <= self.seq:
            return self._disconnect(f"serverseq {serverseq!r} is not one this server sent")
        if msg.get("id") != self.id:
            return self._disconnect("the message id is not this session's id")
        params = _object(msg.get("parameters"))
        kind = msg["type"]
        try:
            position = parse_duration(msg.get("position", "PT0S"))
            if kind == "open":
                return self._open(params)
            if kind == "ping":
                return [Reply(self.message("pong", {}))]
            if kind == "close":
                self.state = "closing"
                return [Stop()]
            if kind == "error":
                self.errors += 1
                return []
            if kind not in ("update", "paused", "resumed", "discarded"):
                return self._disconnect(f"{kind[:32]!r} is not an AudioHook client message")
            if self.state != "open":
                return []
            if kind == "update":
                return [Mark("update", language=check_language(params.get("language")))]
            if kind == "paused":
                return [Mark("paused")]
            return [Mark("resumed"), *self._gap(position)] if kind == "resumed" else self._gap(position)
        except InputError as exc:
            return self._disconnect(str(exc))

    def _open(self, params: dict[str, Any]) -> list[Event]:
        if self.state != "new":
            return self._disconnect("a second open")
        conversation = params.get("conversationId")
        if not isinstance(conversation, str) or not _UUID.fullmatch(conversation):
            return self._disconnect("open names no conversationId")
        media = choose_media(params.get("media"))
        if media is None:
            return self._disconnect(
                "no media offer this server takes (PCMU or L16, 8000 Hz, external/internal)"
            )
        custom = _object(params.get("customConfig"))
        language = custom.get("language") or params.get("language")
        routing = Routing.from_params({**custom, "language": language})
        participant = _object(params.get("participant"))
        ani = participant.get("ani")
        source = f"audiohook:ani-{ani_hash(ani, self.salt)}" if isinstance(ani, str) and ani else "audiohook"
        self.media, self.state = media, "open"
        self._upsamplers = [Upsampler() for _ in media["channels"]]
        opened: dict[str, Any] = {"media": [media]}
        if params.get("supportedLanguages") is True:
            opened["supportedLanguages"] = list(SUPPORTED_LANGUAGES)
        start = Start(
            call_id_for(conversation),
            routing,
            source=source,
            probe=conversation == NIL_UUID,
            endpoint_silence=self.endpoint_silence,
        )
        return [start, Reply(self.message("opened", opened))]

    def _gap(self, position: float) -> list[Event]:
        """Positions moved on past the audio received: that much stream was not sent."""
        gap = position - self.received
        if self.state != "open" or gap <= 1 / RATE:
            return []
        self.received = position
        return [Gap(gap)]

    def _audio(self, data: bytes) -> list[Event]:
        if self.state != "open" or self.media is None:
            raise InputError("audio before the session is open")
        channels = self.media["channels"]
        width = len(channels) * (2 if self.media["format"] == "L16" else 1)
        if not data or len(data) % width:
            raise InputError("an audio frame that is not whole samples of the chosen channels")
        if self.media["format"] == "L16":  # companded to mu-law: the telephony path's one codec
            pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
            data = encode_mulaw(pcm)
        n = len(channels)
        self.received += len(data) / n / RATE
        return [Audio(SPEAKERS[name], self._upsamplers[i](data[i::n])) for i, name in enumerate(channels)]
