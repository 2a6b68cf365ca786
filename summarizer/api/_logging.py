"""Structured JSON logs: one line per request (id, method, path, status, latency, tokens), never article text.

``RequestLogMiddleware`` also gives every request an id (the caller's ``X-Request-ID`` when it is sane),
records the request metrics, and turns an unexpected exception into a JSON 500 whose details stay in the log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ErrorCode
from ._errors import error_body
from ._metrics import Metrics

access_log = logging.getLogger("summarizer.api.access")
log = logging.getLogger("summarizer.api")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: Key in the ASGI scope where a route leaves what the request cost, for the access log line.
USAGE_KEY = "summarizer.usage"
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: everything as JSON lines on stderr, no duplicate access log."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "summarizer": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


class RequestLogMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id, "path": scope["path"]})
            if status == 0:
                await self._internal_error(send_with_id)
            status = status or 500
        finally:
            self._record(scope, request_id, status or 499, time.perf_counter() - started)

    @staticmethod
    async def _internal_error(send: Send) -> None:
        body = json.dumps(error_body(ErrorCode.INTERNAL_ERROR, "internal server error; see the server log")).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        method, route = scope["method"], _route_label(scope)
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.latency.labels(method, route).observe(seconds)
        fields: dict[str, Any] = {
            "request_id": request_id,
            "method": method,
            "path": scope["path"],
            "status": status,
            "latency_ms": round(seconds * 1000, 2),
        }
        usage = scope.get(USAGE_KEY)
        if usage is not None:
            fields.update(
                model_calls=usage.model_calls,
                retries=usage.retries,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                tokens=usage.prompt_tokens + usage.completion_tokens,
            )
        access_log.info("request", extra=fields)
