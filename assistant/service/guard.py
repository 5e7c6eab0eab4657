"""Checks every HTTP request passes before a route sees it: body size, and text that UTF-8 cannot hold.

A pure ASGI middleware (it must see the body before FastAPI parses it):

- a body larger than `max_body_bytes` (declared or streamed) is refused with 413 and a clear message;
- a JSON body with a lone UTF-16 surrogate anywhere (`"T\\ud800"` is valid JSON but no valid
  text) is refused with 422 naming the field, so no route stores, writes or echoes it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from assistant.errors import surrogate_path

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _answer(send: Send, status: int, detail: Any) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestGuard:
    """Body size limit and lone-surrogate check for the HTTP routes (sockets pass through)."""

    def __init__(self, app: Any, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    def _too_large(self, size: int | str) -> str:
        return (
            f"request body of {size} bytes is larger than the limit of {self.max_body_bytes} (max_body_bytes)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode("latin-1")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            await _answer(send, 413, self._too_large(declared))
            return
        chunks: list[bytes] = []
        total = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left; the route will see the disconnect
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.max_body_bytes:
                await _answer(send, 413, self._too_large(f"more than {total}"))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and b"json" in headers.get(b"content-type", b""):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None  # FastAPI reports malformed JSON itself
            field = surrogate_path(parsed, "") if parsed is not None else None
            if field:
                message_text = "contains an invalid character (a lone UTF-16 surrogate); send valid text"
                await _answer(send, 422, [{"field": field, "message": message_text}])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
