"""Raw PCM at /media/raw: binary PCM16 16 kHz frames, mono (`speaker`) or stereo (`channels=2`,
interleaved; the agent on the `agent_channel`). The call and its routing ride in the query string
(`call_id`, `agent`, `queue`, `language`); a text `stop` ends the call."""

from __future__ import annotations

from typing import Any

import numpy as np

from assistant.errors import InputError
from assistant.service.media.events import Audio, Event, Routing, Start, Stop

STOPS = ('{"event": "stop"}', '{"event":"stop"}', "stop")


class RawSerializer:
    """Raw PCM16 frames to events; the start comes from the query string (`start`)."""

    name = "raw"
    replies = False

    def __init__(self, params: dict[str, str], agent_left: bool) -> None:
        self.params = params
        self.channels = params.get("channels", "1")
        self.speaker = params.get("speaker", "caller")
        self.agent_left = agent_left

    def start(self) -> Start:
        """The call the query string names; InputError when it names none or is malformed."""
        call_id = (self.params.get("call_id") or "").strip()
        if not call_id:
            raise InputError("call_id is required in the query string")
        if self.channels not in ("1", "2") or self.speaker not in ("caller", "agent"):
            raise InputError("channels must be 1 or 2 and speaker caller or agent")
        return Start(call_id[:128], Routing.from_params(self.params))

    def deserialize(self, text: str | None, data: bytes | None) -> list[Event]:
        if text is not None:
            if text.strip() in STOPS:
                return [Stop()]
            raise InputError("a text message other than stop")
        width = 2 * int(self.channels)
        if not data or len(data) % width:
            raise InputError("a frame that is not whole PCM16 samples")
        pcm = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
        if self.channels == "1":
            return [Audio(self.speaker, pcm)]
        left, right = pcm[0::2], pcm[1::2]
        return [
            Audio("agent", left if self.agent_left else right),
            Audio("caller", right if self.agent_left else left),
        ]

    def serialize(self, event: dict[str, Any]) -> str | None:
        return None
