"""Bounds that keep the server honest under load: a concurrency limit with a bounded waiting queue
(beyond it, 429 with Retry-After) and a request body size limit (413)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ErrorCode
from ._errors import ApiError, error_body

#: Retry-After is measured over the last requests to finish (at most this many, within this many seconds).
DRAIN_WINDOW = 32
DRAIN_HORIZON_S = 60.0


class Admission:
    """At most ``limit`` summaries run at once and at most ``queue_size`` wait; the rest are refused.

    With ``tenant_share`` below 1, one caller (an API key) may hold at most that share of the running + waiting
    places: past it, that caller gets 429 while others are still admitted.
    """

    def __init__(
        self, limit: int, queue_size: int, on_reject: Callable[[], None] | None = None, *, tenant_share: float = 1.0
    ) -> None:
        self.limit = limit
        self.on_reject = on_reject
        self.queue_size = queue_size
        self.tenant_cap = max(1, math.floor(tenant_share * (limit + queue_size)))
        self.active = 0
        self.waiting = 0
        self.rejected = 0
        self.held: dict[str, int] = {}
        self._slots = asyncio.Semaphore(limit)
        self._mean_s = 1.0  # moving average of how long a slot is held, before any drain rate is measured
        self._finished: deque[float] = deque(maxlen=DRAIN_WINDOW)  # when recent requests released their slot

    def retry_after(self) -> int:
        """Seconds until a slot is likely free for a new caller: the queue ahead at the measured drain rate (the
        pace at which the last requests finished), or from the mean slot time before any has finished."""
        ahead = self.waiting + 1
        now = time.monotonic()
        recent = [t for t in self._finished if now - t <= DRAIN_HORIZON_S]
        if len(recent) >= 2 and recent[-1] > recent[0]:
            per_second = (len(recent) - 1) / (recent[-1] - recent[0])
            estimate = ahead / per_second
        else:
            estimate = self._mean_s * ahead / self.limit
        return max(1, min(60, math.ceil(estimate)))

    def _refuse(self, message: str) -> ApiError:
        self.rejected += 1
        if self.on_reject is not None:
            self.on_reject()
        retry = self.retry_after()
        return ApiError(429, ErrorCode.OVERLOADED, f"{message}; retry in {retry} s", {"Retry-After": str(retry)})

    @asynccontextmanager
    async def slot(self, tenant: str | None = None) -> AsyncIterator[None]:
        if self._slots.locked() and self.waiting >= self.queue_size:
            raise self._refuse(f"server busy: {self.active} requests running and {self.waiting} waiting")
        if tenant is not None and self.held.get(tenant, 0) >= self.tenant_cap:
            raise self._refuse(f"this key already has {self.tenant_cap} requests running or waiting, its share")
        if tenant is not None:
            self.held[tenant] = self.held.get(tenant, 0) + 1
        try:
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
                finished = time.monotonic()
                self._finished.append(finished)
                self._mean_s = 0.8 * self._mean_s + 0.2 * (finished - started)
        finally:
            if tenant is not None:
                self.held[tenant] -= 1
                if not self.held[tenant]:
                    del self.held[tenant]


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
