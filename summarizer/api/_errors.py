"""Every error the API sends is JSON ``{"error": {"code", "message"}}`` with a stable code; never a traceback.

Caller mistakes are 4xx (400 malformed JSON, 401, 404, 405, 413, 422 invalid input, 429); backend faults
are 502/503/504; only a fault of the server itself is a 500, and its details go to the log, not the caller.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    ErrorCode,
    InputError,
    InputTooLargeError,
    SummarizerError,
)

log = logging.getLogger("summarizer.api")

#: Stable codes for plain HTTP errors raised by routing (unknown path, wrong method).
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.ROUTE_NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.REQUEST_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    429: ErrorCode.OVERLOADED,
}


class ApiError(Exception):
    """An HTTP error with a stable code, raised by routes and middleware."""

    def __init__(self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


#: What a caller is told of a fault in the server's own configuration or storage (the log has the details).
SERVER_FAULT = "the server cannot serve requests: its configuration or storage is unusable (details in the server log)"


def status_for(exc: SummarizerError) -> int:
    """The HTTP status of a library error: input 413/422, backend 502/503/504, configuration 500."""
    if isinstance(exc, InputTooLargeError):
        return 413
    if isinstance(exc, InputError):
        return 422
    if isinstance(exc, BackendUnavailableError):
        return 503
    if isinstance(exc, BackendTimeoutError):
        return 504
    if isinstance(exc, BackendError):
        return 502
    return 500  # ConfigError and friends: the server is misconfigured, not the caller


def _validation_message(exc: RequestValidationError) -> tuple[int, ErrorCode, str]:
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        detail = (first.get("ctx") or {}).get("error", "invalid JSON")
        return 400, ErrorCode.MALFORMED_JSON, f"request body is not valid JSON: {detail}"
    not_an_object = ("model_attributes_type", "missing")
    if any(e.get("type") in not_an_object and tuple(e.get("loc", ())) == ("body",) for e in errors):
        return (
            422,
            ErrorCode.INVALID_REQUEST,
            "request body must be a JSON object, sent as Content-Type: application/json",
        )
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return 422, ErrorCode.INVALID_REQUEST, "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(SummarizerError)
    async def _summarizer_error(request: Request, exc: SummarizerError) -> JSONResponse:
        status = status_for(exc)
        if status >= 500:
            log.warning("request failed: %s (%s)", exc.code, exc.message)
        if status == 500:  # the server's own configuration or storage: its paths and details stay in its log
            return error_response(status, exc.code, SERVER_FAULT)
        return error_response(status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, message = _validation_message(exc)
        return error_response(status, code, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), dict(exc.headers or {}))
