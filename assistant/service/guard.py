"""Checks every HTTP request passes before a route sees it: body size, and text that UTF-8 cannot hold.

A pure ASGI middleware (it must see the body before FastAPI parses it):

- a body larger than `max_body_bytes` (declared or streamed) is refused with 413 and a clear message;
- a JSON body with a lone UTF-16 surrogate anywhere (`"T\\ud800"` is valid JSON but no valid
  text) is refused with 422 naming the field, so no route stores, writes or echoes it;
- a JSON body nested deeper than `MAX_JSON_DEPTH` is refused with 422 (no route takes more than a
  few levels; 2,000 levels made the parser raise RecursionError, a 500).

FastAPI parses a body as JSON when its content type says JSON or when it names none, so both are checked.
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


MAX_JSON_DEPTH = 32


def _depth(value: Any) -> int:
    """How deep lists and objects nest in `value` (without recursion: the value may be deep)."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level <= MAX_JSON_DEPTH:
                stack.extend((x, level + 1) for x in (item.values() if isinstance(item, dict) else item))
    return deepest


def _json_problem(body: bytes) -> tuple[str, str] | None:
    """(field, message) when a JSON body is too deep or holds a lone surrogate, else None."""
    too_deep = ("(body)", f"JSON nested deeper than {MAX_JSON_DEPTH} levels; send a flatter document")
    try:
        parsed = json.loads(body)
    except RecursionError:
        return too_deep
    except ValueError:
        return None  # FastAPI reports malformed JSON itself
    if _depth(parsed) > MAX_JSON_DEPTH:
        return too_deep
    field = surrogate_path(parsed, "")
    if field:
        return field, "contains an invalid character (a lone UTF-16 surrogate); send valid text"
    return None


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
        content_type = headers.get(b"content-type", b"")
        if body and (b"json" in content_type or not content_type):
            problem = _json_problem(body)
            if problem:
                await _answer(send, 422, [{"field": problem[0], "message": problem[1]}])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
