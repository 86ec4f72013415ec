"""A bound on request bodies, enforced while they are read.

No route of the API takes a body today (the read models are GET only), but a
server reads what a client sends: without a bound a client could send
gigabytes. A request announcing more than `MAX_BODY_BYTES` (`Content-Length`)
is answered 413 before its body is read; a body sent without a length
(chunked) is read up to the bound and no further, then answered 413, or
handed on whole if it stays within it.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from adapters.http.problems import PROBLEM

MAX_BODY_BYTES = 64 * 1024


class BodyLimit:
    """ASGI middleware: 413 (problem details) for a body over `limit` bytes, never reading past it."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        announced = headers.get(b"content-length")
        if announced is not None:
            if not announced.isdigit() or int(announced) > self.limit:
                await self._refuse(scope, send)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.limit:
                await self._refuse(scope, send)
                return
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body = orjson.dumps(
            {
                "type": "/problems/too-large",
                "title": "Content Too Large",
                "status": 413,
                "detail": f"a request body may hold at most {self.limit} bytes",
                "instance": scope.get("path", ""),
            }
        )
        headers: list[Any] = [
            (b"content-type", PROBLEM.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
