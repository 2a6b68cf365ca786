"""Bounds that keep the server honest under load: a concurrency limit with a bounded waiting queue
(beyond it, 429 with Retry-After) and a request body size limit (413)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, error_body


class Admission:
    """At most ``limit`` summaries run at once and at most ``queue_size`` wait; the rest are refused."""

    def __init__(self, limit: int, queue_size: int, on_reject: Callable[[], None] | None = None) -> None:
        self.limit = limit
        self.on_reject = on_reject
        self.queue_size = queue_size
        self.active = 0
        self.waiting = 0
        self.rejected = 0
        self._slots = asyncio.Semaphore(limit)
        self._mean_s = 1.0  # moving average of how long a slot is held, for Retry-After

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for a new caller: the queue ahead drained at the current pace."""
        ahead = self.waiting + 1
        return max(1, min(60, math.ceil(self._mean_s * ahead / self.limit)))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self.queue_size:
            self.rejected += 1
            if self.on_reject is not None:
                self.on_reject()
            retry = self.retry_after()
            raise ApiError(
                429,
                "overloaded",
                f"server busy: {self.active} requests running and {self.waiting} waiting; retry in {retry} s",
                {"Retry-After": str(retry)},
            )
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        self.active += 1
        started = time.monotonic()
        try:
            yield
        finally:
            self.active -= 1
            self._slots.release()
            self._mean_s = 0.8 * self._mean_s + 0.2 * (time.monotonic() - started)


class BodyLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, by Content-Length or while reading a chunked body.

    The body is read (up to the limit) before the app sees it, so a route never starts work on a
    request that will turn out too large.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send, size: str) -> None:
        message = f"request body is {size}, over the limit of {self.max_bytes:,} bytes"
        body = json.dumps(error_body("request_too_large", message)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, f"{int(declared):,} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, f"over {self.max_bytes:,} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
