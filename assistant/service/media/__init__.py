"""The media WebSockets: one transport loop (`transport`), one serializer per wire format.

- `/media`: Twilio Media Streams (`twilio`);
- `/media/raw`: raw 16 kHz PCM16 (`raw`);
- `/audiohook`: Genesys Cloud AudioHook (`audiohook`; signed upgrades checked by `signature`).

Adding a format: a module with a class that has `deserialize(text, data) -> list[Event]` and
`serialize(event) -> str | None` (`events.Serializer`), a route that runs `transport.serve` with
it, a line in the access policy, and tests (docs/telephony.md).
"""

from __future__ import annotations

from assistant.service.media.events import Routing, check_language, check_name, load_json
from assistant.service.media.raw import RawSerializer
from assistant.service.media.transport import KeySlots, Limits, pace_delay, serve
from assistant.service.media.twilio import TwilioSerializer, decode_mulaw_payload

__all__ = [
    "KeySlots",
    "Limits",
    "RawSerializer",
    "Routing",
    "TwilioSerializer",
    "check_language",
    "check_name",
    "decode_mulaw_payload",
    "load_json",
    "pace_delay",
    "serve",
]
