"""What a wire format says, as typed events, and the serializer each format implements.

A serializer turns one WebSocket message into events (`deserialize`) and a call's own events
(captions, alerts) into replies for the platform (`serialize`); the transport loop
(`transport.serve`) does everything else once: limits, pacing, opening and ending the call.
A new format is one module with a `Serializer` and its tests.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from assistant.errors import InputError
from assistant.language.detect import normalize_code

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_JSON_DEPTH = 32  # AudioHook's deepest message nests 8 levels; Twilio's 3


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


def load_json(text: str) -> Any:
    """JSON text to a value; InputError when it is not JSON or nests deeper than MAX_JSON_DEPTH
    (measured before parsing: 2,000 levels would exhaust the parser's recursion)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:
                raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise InputError("malformed JSON") from None


class Closed(Exception):
    """Close the socket with `code` and `reason`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Routing:
    """Who and where a call is for: Twilio's customParameters, AudioHook's customConfig or the
    raw socket's query string."""

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


@dataclass(frozen=True)
class Start:
    """A call begins. `probe`: the platform only checks the connection; nothing is stored."""

    call_id: str
    routing: Routing = field(default_factory=Routing)
    source: str = "live"
    probe: bool = False
    endpoint_silence: float | None = None  # the format's own pause that ends an utterance


@dataclass(frozen=True)
class Audio:
    """16 kHz float32 samples of one named channel, already mapped to its speaker role."""

    speaker: str
    samples: np.ndarray


@dataclass(frozen=True)
class Mark:
    """A point in the stream where open utterances end (a pause, a language update)."""

    name: str
    language: str | None = None


@dataclass(frozen=True)
class Gap:
    """`seconds` of stream the platform did not send (discarded audio): positions move on."""

    seconds: float


@dataclass(frozen=True)
class Reply:
    """A message for the platform now (an answer to its message)."""

    text: str


@dataclass(frozen=True)
class Stop:
    """The call ends. A format with replies then gets `serialize({"type": "closed"})` for its
    last message, once the call's last finals are sent."""


Event = Start | Audio | Mark | Gap | Reply | Stop


class Serializer(Protocol):
    """One wire format. `replies`: the format carries messages back (the loop then forwards the
    call's events through `serialize` while it streams, and waits for the finals at the end)."""

    name: str
    replies: bool

    def deserialize(self, text: str | None, data: bytes | None) -> list[Event]:
        """Events in one message; InputError for a malformed frame (dropped and counted)."""
        ...

    def serialize(self, event: dict[str, Any]) -> str | None:
        """A call event (caption, alert, status) as a message for the platform, or None."""
        ...
