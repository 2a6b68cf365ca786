"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp servers).

Two retry loops, kept apart: tenacity retries transport faults (429 honouring Retry-After, 5xx, timeouts,
dropped connections) around each HTTP request; an answer that fails validation is re-asked. Both are
bounded, and the tokens of every attempt are counted.

instructor's JSON-schema handlers build the request (the schema as ``response_format``), parse and validate
the answer, and write the re-ask message; the re-ask loop around them is a plain ``for`` loop. instructor's own
loop (``instructor.patch``) wraps every call in a tenacity retrier and deep-copies the token usage a few
times per call: on a busy API server that was two fifths of the CPU, and its objects reference each other, so
freeing them fell to the garbage collector, whose pauses showed in the tail latency.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import instructor
import openai
from instructor.core.exceptions import IncompleteOutputException, ResponseParsingError
from instructor.utils.providers import Provider
from instructor.v2.core.registry import mode_registry
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion
from pydantic import BaseModel, ValidationError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from ..config import Settings
from ..errors import (
    BackendError,
    BackendTimeoutError,
    BackendUnavailableError,
    ConfigError,
    OutputValidationError,
)
from ..schemas import Usage
from .base import OPENAI_DEFAULT_MODEL, CallResult

RETRY_AFTER_CAP_S = 60.0
_backoff = wait_random_exponential(multiplier=0.5, max=20)


def should_retry(exc: BaseException) -> bool:
    """Transport faults worth another try: rate limits, server errors, timeouts, dropped connections."""
    if isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


def retry_after_seconds(exc: BaseException | None) -> float | None:
    """Seconds the server asked us to wait (Retry-After or retry-after-ms), if any."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def wait_for_retry(state: RetryCallState) -> float:
    """Jittered exponential backoff, or the server's Retry-After when it asks for longer."""
    backoff = _backoff(state)
    asked = retry_after_seconds(state.outcome.exception() if state.outcome else None)
    if asked is None:
        return backoff
    return min(max(asked, 0.0), RETRY_AFTER_CAP_S)


def _timed_out(exc: openai.APITimeoutError) -> bool:
    """Whether a time limit ran out, rather than the connection being refused or dropped.

    The SDK's aiohttp transport reports every connection failure as a connect timeout; the original
    exception, kept as the cause, tells the two apart.
    """
    cause = exc.__cause__
    while cause is not None:
        if isinstance(cause, TimeoutError):
            return True
        if isinstance(cause, (OSError, aiohttp.ClientConnectionError)):
            return False
        cause = cause.__cause__
    return True


def _translate(exc: BaseException, backend: str) -> BackendError:
    if isinstance(exc, openai.APITimeoutError) and _timed_out(exc):
        return BackendTimeoutError(f"{backend} backend timed out: {exc}", backend=backend, original=exc)
    if isinstance(exc, openai.APIConnectionError):
        return BackendUnavailableError(
            f"{backend} backend unreachable: {exc} (is the endpoint up? check SUMMARIZER_BASE_URL)",
            backend=backend,
            original=exc,
        )
    if isinstance(exc, openai.APIStatusError):
        hint = " (check SUMMARIZER_API_KEY)" if exc.status_code in (401, 403) else ""
        return BackendError(
            f"{backend} backend answered HTTP {exc.status_code}: {exc.message}{hint}",
            backend=backend,
            status_code=exc.status_code,
            original=exc,
        )
    return BackendError(f"{backend} backend failed: {exc!r}", backend=backend, original=exc)


RawCreate = Callable[..., Awaitable[Any]]


#: instructor's handlers for JSON-schema structured output: how a request carries the schema, how an answer is parsed
#: and validated, and how a re-ask tells the model what was wrong.
_HANDLERS = mode_registry.get_handlers(Provider.OPENAI, instructor.Mode.JSON_SCHEMA)
#: What makes an answer worth a re-ask (an answer cut off at the token limit is not: it would be cut off again).
REASK_ERRORS = (ValidationError, json.JSONDecodeError, ResponseParsingError)


@functools.cache
def instructor_model(model: type[BaseModel]) -> type[BaseModel]:
    """instructor's wrapper class of a response model, built once per model.

    Given a plain pydantic model, instructor derives a new wrapper class on every call, so nothing keyed by the
    class (its JSON schema) survives between calls; an already wrapped class is used as it is.
    """
    wrapped: type[BaseModel] = instructor.openai_schema(model)
    return wrapped


@functools.cache
def request_format(model: type[BaseModel]) -> dict[str, Any]:
    """What instructor's JSON-schema handler adds to a request for ``model`` (its ``response_format``).

    Built once per model: it depends on the class alone, and building it copies the whole JSON schema. Every
    request for the model shares the result, so it is read, never modified (``_adapt`` builds a new format).
    """
    _, kwargs = _HANDLERS.request_handler(response_model=model, kwargs={})
    return {key: value for key, value in kwargs.items() if key != "messages"}


class OpenAIBackend:
    """Chat completions with a JSON schema, validated by instructor's handlers."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        response_format: str | None = None,
        raw_create: RawCreate | None = None,
    ) -> None:
        self.settings = settings
        self.model = model or settings.model or OPENAI_DEFAULT_MODEL
        self.response_format = response_format or settings.response_format
        self.wait: Callable[[RetryCallState], float] = wait_for_retry
        self._client: AsyncOpenAI | None = None
        if raw_create is None:
            base_url = base_url or settings.base_url
            if not base_url:
                raise ConfigError(
                    "no endpoint configured for the openai backend: set SUMMARIZER_BASE_URL (or --base-url), "
                    "or use the local backend"
                )
            key = api_key or (settings.api_key.get_secret_value() if settings.api_key else None) or "none"
            self._client_options: dict[str, Any] = {
                "base_url": base_url,
                "api_key": key,
                "timeout": settings.request_timeout,
                "max_retries": 0,
            }
            self._client = self._new_client()
            raw_create = self._post_chat_completion
        self._raw_create = raw_create

    def _new_client(self, *, portable: bool = False) -> AsyncOpenAI:
        """The SDK client. Built inside a running event loop (the HTTP API, batch jobs), it uses the SDK's aiohttp
        transport, the cheaper one in client CPU per call (``bench/api.py`` measures it); an aiohttp session only
        works in the loop it was made in, so a client built outside any loop (a library user calling
        ``summarize`` several times) uses the default transport, which any loop can use."""
        http_client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        if not portable:
            try:
                self._client_loop = asyncio.get_running_loop()
                http_client = openai.DefaultAioHttpClient()
            except RuntimeError:
                pass
        return AsyncOpenAI(**self._client_options, http_client=http_client)

    def _current_client(self) -> AsyncOpenAI:
        assert self._client is not None
        if self._client_loop is not None and self._client_loop is not asyncio.get_running_loop():
            # Used from another event loop than the one its aiohttp session belongs to.
            self._client = self._new_client(portable=True)
        return self._client

    async def _post_chat_completion(self, **body: Any) -> ChatCompletion:
        """POST /chat/completions with the body as built, parsed into the SDK's ``ChatCompletion``.

        The SDK's ``chat.completions.create`` first walks the whole request (messages and JSON schema) to
        transform typed parameters, which plain JSON bodies like ours do not need; on a busy batch that walk
        was a fifth of the client's CPU. The request, its headers, timeout and error mapping are the SDK's.
        """
        client = self._current_client()
        return await client.post("/chat/completions", body=body, cast_to=ChatCompletion)

    def _adapt(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """llama-cpp-python's server takes the schema as {"type": "json_object", "schema": ...}."""
        fmt = kwargs.get("response_format")
        if self.response_format == "json_object" and isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            kwargs = {**kwargs, "response_format": {"type": "json_object", "schema": fmt["json_schema"]["schema"]}}
        return kwargs

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        usage = Usage()
        started = time.perf_counter()
        model = instructor_model(response_model)
        messages = list(messages)  # a re-ask extends the list: the caller's stays as it was
        if _HANDLERS.message_converter is not None:
            messages = _HANDLERS.message_converter(messages)
        kwargs = {"messages": messages, "model": self.model, "temperature": self.settings.temperature}
        kwargs |= request_format(model)
        attempts = self.settings.max_reasks + 1
        for attempt in range(1, attempts + 1):
            response = await self._send(kwargs, usage)
            try:
                parsed = _HANDLERS.response_parser(response=response, response_model=model, strict=True, is_async=True)
                break
            except IncompleteOutputException as exc:
                raise OutputValidationError(
                    f"{self.name} backend: {name} output was cut off at the token limit",
                    backend=self.name,
                    original=exc,
                ) from exc
            except REASK_ERRORS as exc:
                if attempt == attempts:
                    raise OutputValidationError(
                        f"{self.name} backend: {name} output failed validation after {attempt} attempt(s): "
                        f"{str(exc)[:300]}",
                        backend=self.name,
                        original=exc,
                    ) from exc
                kwargs = _HANDLERS.reask_handler(kwargs=kwargs, response=response, exception=exc)
        usage.retries += max(0, usage.model_calls - 1)
        return CallResult(parsed=parsed, usage=usage, ms=(time.perf_counter() - started) * 1000)

    async def _send(self, kwargs: dict[str, Any], usage: Usage) -> Any:
        """One request, with its transport retries; its tokens go into ``usage``."""
        kwargs = self._adapt(kwargs)
        try:
            try:
                response = await self._raw_create(**kwargs)
            except Exception as exc:  # whether and when to try again is tenacity's decision
                response = await self._retry(exc, usage, kwargs)
        except openai.OpenAIError as exc:
            raise _translate(exc, self.name) from exc
        usage.model_calls += 1
        _add_usage(usage, getattr(response, "usage", None))
        return response

    async def _retry(self, first: Exception, usage: Usage, kwargs: dict[str, Any]) -> Any:
        """Attempts 2 and later of a request whose first attempt failed with ``first``, paced by tenacity.

        tenacity's attempt 1 is the failure that already happened, so which errors are retried, the waits and
        the attempt limit are the same as for a loop that made every attempt itself (an error that is not
        retried, or ``max_retries=0``, raises ``first`` again at once). The first attempt runs outside tenacity: its
        bookkeeping objects reference each other, and freeing them on every request would fall to Python's
        cycle collector, whose pauses show in a busy server's tail latency.
        """
        pending: Exception | None = first

        async def attempt() -> Any:
            nonlocal pending
            if pending is not None:
                failed, pending = pending, None
                raise failed
            usage.retries += 1
            return await self._raw_create(**kwargs)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.settings.max_retries + 1),
            wait=self.wait,
            retry=retry_if_exception(should_retry),
            reraise=True,
        )
        return await retrying(attempt)

    async def ready(self) -> bool:
        if self._client is None:
            return True
        try:
            await self._current_client().models.list(timeout=5.0)
        except openai.APIStatusError:
            return True  # reachable; some servers do not list models
        except openai.OpenAIError:
            return False
        return True

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()


def _add_usage(usage: Usage, raw: Any) -> None:
    if raw is None:
        return
    usage.prompt_tokens += int(getattr(raw, "prompt_tokens", 0) or 0)
    usage.completion_tokens += int(getattr(raw, "completion_tokens", 0) or 0)
    details = getattr(raw, "prompt_tokens_details", None)
    usage.cached_prompt_tokens += int(getattr(details, "cached_tokens", 0) or 0) if details else 0
