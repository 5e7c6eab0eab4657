"""The Genesys side of an AudioHook session, for `assistant simulate-call --format audiohook` and
the tests: signed upgrade headers (RFC 9421 HMAC-SHA256, as Genesys Cloud signs them), the client
messages with their sequence numbers, and stereo PCMU frames (external: the caller, internal: the
agent)."""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from assistant.service.media.signature import REQUIRED as COVERED
from assistant.speech.audio import encode_mulaw


@dataclass
class _Request:
    method: str
    url: str
    headers: dict[str, str]


def signed_headers(
    url: str, api_key: str, client_secret: str, session_id: str, nonce: str | None = None
) -> dict[str, str]:
    """The upgrade request's headers for `url`, signed with the base-64 `client_secret`."""
    from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

    secret = base64.b64decode(client_secret)

    class Resolver(HTTPSignatureKeyResolver):
        def resolve_public_key(self, key_id: str) -> Any:
            return secret

        def resolve_private_key(self, key_id: str) -> Any:
            return secret

    parts = urlsplit(url)
    headers = {
        "Audiohook-Organization-Id": str(uuid.uuid4()),
        "Audiohook-Session-Id": session_id,
        "Audiohook-Correlation-Id": str(uuid.uuid4()),
        "X-API-KEY": api_key,
    }
    scheme = "https" if parts.scheme == "wss" else "http"
    request = _Request(
        "GET", f"{scheme}://{parts.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else ""), headers
    )
    created = datetime.datetime.now(datetime.UTC)
    HTTPMessageSigner(signature_algorithm=algorithms.HMAC_SHA256, key_resolver=Resolver()).sign(
        request,
        key_id=api_key,
        created=created,
        expires=created + datetime.timedelta(seconds=30),
        nonce=nonce or secrets.token_urlsafe(18),
        covered_component_ids=COVERED,
        label="sig1",
    )
    return dict(request.headers)


@dataclass
class Session:
    """One client session: its id and sequence numbers."""

    session_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    seq: int = 0
    serverseq: int = 0
    position: float = 0.0

    def message(self, kind: str, parameters: dict[str, Any]) -> str:
        self.seq += 1
        return json.dumps(
            {
                "version": "2",
                "id": self.session_id,
                "type": kind,
                "seq": self.seq,
                "serverseq": self.serverseq,
                "position": f"PT{self.position:.3f}S",
                "parameters": parameters,
            }
        )

    def open(
        self,
        conversation_id: str,
        custom: dict[str, str],
        *,
        language: str = "en-US",
        ani: str = "+1-555-555-1234",
        channels: tuple[str, ...] = ("external", "internal"),
    ) -> str:
        return self.message(
            "open",
            {
                "organizationId": str(uuid.uuid4()),
                "conversationId": conversation_id,
                "participant": {
                    "id": str(uuid.uuid4()),
                    "ani": ani,
                    "aniName": "Test Caller",
                    "dnis": "+1-800-555-0100",
                },
                "media": [{"type": "audio", "format": "PCMU", "channels": list(channels), "rate": 8000}],
                "language": language,
                "customConfig": custom,
                "supportedLanguages": False,
            },
        )

    def seen(self, text: str) -> dict[str, Any]:
        """A server message, its seq noted for the next client message."""
        msg: dict[str, Any] = json.loads(text)
        self.serverseq = int(msg.get("seq", self.serverseq))
        return msg


def stereo_frames(caller: np.ndarray, agent: np.ndarray, samples: int = 160) -> list[bytes]:
    """8 kHz tracks as interleaved PCMU frames (external first), `samples` per channel each."""
    length = max(len(caller), len(agent))
    ext = encode_mulaw(np.pad(caller, (0, length - len(caller))))
    ins = encode_mulaw(np.pad(agent, (0, length - len(agent))))
    both = np.empty(2 * length, dtype=np.uint8)
    both[0::2] = np.frombuffer(ext, np.uint8)
    both[1::2] = np.frombuffer(ins, np.uint8)
    data = both.tobytes()
    return [data[i : i + 2 * samples] for i in range(0, len(data), 2 * samples)]
