"""The embedded local model: llama.cpp on this machine's CPU, no key, no network.

It is the OpenAI-compatible backend pointed at a llama-cpp-python server that this backend starts on first
use (one per model and options, shared by the whole process), so the local path is the tested HTTP path.
Requests take turns machine-wide (see ``_compute_lock``): a server computes one answer at a time anyway, two
servers sharing the cores slow each other down many times over, and a request never spends its timeout
waiting in a queue. After each answer the server's log gives the prompt tokens it
reused from its cache, which are reported as ``cached_prompt_tokens``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import weakref
from typing import Any

import openai
from openai import AsyncOpenAI
from openai.types.completion_usage import PromptTokensDetails
from pydantic import BaseModel

from ..config import Settings
from ..errors import BackendTimeoutError, BackendUnavailableError
from . import _server_process as srv
from ._compute_lock import compute_turn
from ._gguf import Progress, TextProgress, ensure_model, model_id
from .base import CallResult
from .openai import OpenAIBackend

_LOG_WAIT_S = 1.0
_DEATH_WAIT_S = 2.0


class LocalBackend(OpenAIBackend):
    """llama.cpp through its OpenAI-compatible server, grammar-constrained JSON from the schema."""

    name = "local"

    def __init__(self, settings: Settings, *, progress: Progress | None = None) -> None:
        """``progress`` hears how the embedded model's first assembly goes (plain lines on stderr by default)."""
        super().__init__(settings, model=model_id(settings), response_format="json_object", raw_create=self._create)
        self.progress: Progress = progress or TextProgress()
        self.server: srv.LlamaServer | None = None
        self.server_timings: list[srv.Timings] = []
        self._http: AsyncOpenAI | None = None
        self._http_url = ""
        self._start_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def server_options(self) -> srv.ServerOptions:
        s = self.settings
        srv.check_llama_cpp()
        return srv.ServerOptions(
            model_path=ensure_model(s, progress=self.progress),
            n_ctx=s.local_ctx,
            n_threads=s.local_threads or len(os.sched_getaffinity(0)) or 1,
            log_dir=s.cache_dir / "logs",
            start_timeout=s.local_start_timeout,
        )

    async def start(self) -> srv.LlamaServer:
        """Assemble the model if needed and start (or join) the shared server; idempotent."""
        loop = asyncio.get_running_loop()
        lock = self._start_locks.setdefault(loop, asyncio.Lock())
        async with lock:
            if self.server is None:
                options = await asyncio.to_thread(self.server_options)
                self.server = await asyncio.to_thread(srv.acquire, options)
            elif not self.server.alive():
                await asyncio.to_thread(srv.restart, self.server)
            if self._http is None or self._http_url != self.server.base_url:
                if self._http is not None:
                    await self._http.close()
                self._http_url = self.server.base_url
                self._http = AsyncOpenAI(
                    base_url=self.server.base_url,
                    api_key="local",
                    timeout=self.settings.request_timeout,
                    max_retries=0,
                )
            return self.server

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        await self.start()  # model and start-up errors surface as themselves, not as a failed answer
        return await super().call(name, messages, response_model)

    async def _create(self, *args: Any, **kwargs: Any) -> Any:
        server = await self.start()
        assert self._http is not None
        async with compute_turn(key=affinity_key(kwargs.get("messages") or [])) as waited:
            offset = server.log_size()
            try:
                response = await self._http.chat.completions.create(*args, **kwargs)
            except openai.APITimeoutError as exc:
                # The server would go on computing the abandoned answer and make every retry wait for it.
                await asyncio.to_thread(server.stop)
                raise BackendTimeoutError(
                    f"the local model did not answer within {self.settings.request_timeout:.0f} s (the machine may "
                    "be busy; raise SUMMARIZER_REQUEST_TIMEOUT); its server was stopped to drop the work and "
                    "starts again on the next request",
                    backend=self.name,
                    original=exc,
                ) from exc
            except openai.OpenAIError as exc:
                if await _died(server):
                    raise _died_error(server) from exc
                raise
            timings = await _timings_since(server, offset)
            timings.queue_wait_ms = waited * 1000
        self.server_timings.append(timings)
        usage = getattr(response, "usage", None)
        if usage is not None:
            usage.prompt_tokens_details = PromptTokensDetails(cached_tokens=timings.cached_prompt_tokens)
        for choice in getattr(response, "choices", None) or []:
            if choice.message.content:
                choice.message.content = repair_json(choice.message.content)
        return response

    async def ready(self) -> bool:
        """Starts the server if it is not running yet; True when it answers."""
        try:
            server = await self.start()
        except Exception:
            return False
        return server.alive()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self.server is not None:
            server, self.server = self.server, None
            await asyncio.to_thread(srv.release, server)


def affinity_key(messages: list[dict[str, Any]]) -> str:
    """Which article a request is about: the start of its first user message (the article comes first)."""
    first = next((str(m.get("content", "")) for m in messages if m.get("role") == "user"), "")
    return hashlib.blake2b(first[:400].encode("utf-8"), digest_size=6).hexdigest()


def repair_json(content: str) -> str:
    """Escape raw control characters inside strings.

    llama-cpp-python's grammar for length-bounded strings admits raw newlines, which strict JSON forbids;
    the answer is otherwise valid, so it is re-serialised instead of being re-asked at full cost.
    """
    try:
        json.loads(content)
        return content
    except ValueError:
        pass
    try:
        data = json.loads(content, strict=False)
    except ValueError:
        return content  # genuinely broken: instructor reports it
    return json.dumps(_squash(data), ensure_ascii=False)


def _squash(value: Any) -> Any:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, list):
        return [_squash(v) for v in value]
    if isinstance(value, dict):
        return {k: _squash(v) for k, v in value.items()}
    return value


async def _died(server: srv.LlamaServer) -> bool:
    """Whether the server process is gone (a dropped connection may reach us just before its exit status)."""
    deadline = asyncio.get_running_loop().time() + _DEATH_WAIT_S
    while server.alive():
        if asyncio.get_running_loop().time() >= deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _died_error(server: srv.LlamaServer) -> BackendUnavailableError:
    code = server.exit_code()
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
    return BackendUnavailableError(
        f"the local llama.cpp server stopped during a request ({how}); it is restarted on the next request. "
        f"Last lines of {server.log_path}:\n{server.log_tail()}",
        backend="local",
    )


async def _timings_since(server: srv.LlamaServer, offset: int) -> srv.Timings:
    """The server's own figures for the request just answered (its log lines may trail the response a little)."""
    deadline = asyncio.get_running_loop().time() + _LOG_WAIT_S
    while True:
        text = server.log_since(offset)
        if "total time =" in text or asyncio.get_running_loop().time() >= deadline:
            return srv.parse_timings(text)
        await asyncio.sleep(0.02)
