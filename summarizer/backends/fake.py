"""A scripted backend shipped with the package, so tests (ours and users') run offline.

It answers through the same instructor path as the OpenAI backend: scripted text is parsed and validated
exactly like a real model's, and an invalid scripted answer triggers a real re-ask.

A script is one of:
- ``None``: every call answers with an empty, valid record set;
- a mapping from call name (``overview``, ``positions``, ``demands``, ``territorial_figures``,
  ``upcoming_meetings``) to an answer or a list of answers used in turn (the last one repeats);
- a callable ``(call_name, messages) -> answer``.
An answer is a dict (sent as JSON), a string (sent as is, valid JSON or not), or an exception to raise.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from openai.types.chat import ChatCompletion
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_message import ChatCompletionMessage
from openai.types.completion_usage import CompletionUsage

from ..config import Settings
from ..errors import ConfigError
from ..schemas import CALLS
from .base import FAKE_MODEL
from .openai import OpenAIBackend

Answer = Any
Script = Mapping[str, Answer] | Callable[[str, list[dict[str, Any]]], Answer] | None

CALLS_KEPT = 1000
_CALL_BY_MODEL = {model.__name__: name for name, model in CALLS.items()}
#: Each call's answer when the script gives none: no records (and, for the overview, a summary saying why).
EMPTY_ANSWERS: dict[str, dict[str, Any]] = {
    name: {field: [] for field in model.model_fields if field != "summary"} for name, model in CALLS.items()
}
EMPTY_ANSWERS["overview"]["summary"] = "No summary: the fake backend was given no script."


def load_script(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"fake backend script {path} unreadable: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"fake backend script {path} must be a JSON object keyed by call name")
    return data


class FakeBackend(OpenAIBackend):
    name = "fake"

    def __init__(
        self, settings: Settings | None = None, script: Script = None, *, latency_ms: int | None = None
    ) -> None:
        settings = settings or Settings(backend="fake")
        if script is None and settings.fake_script is not None:
            script = load_script(settings.fake_script)
        self.script = script
        self.latency_s = (settings.fake_latency_ms if latency_ms is None else latency_ms) / 1000.0
        #: The most recent calls answered (name, messages), for tests to inspect; bounded for long-running servers.
        self.calls: deque[tuple[str, list[dict[str, Any]]]] = deque(maxlen=CALLS_KEPT)
        self.answered = 0
        self._turns: dict[str, int] = {}
        super().__init__(settings, model=FAKE_MODEL, response_format="json_schema", raw_create=self._create)

    def _answer(self, call: str, messages: list[dict[str, Any]]) -> Answer:
        if self.script is None:
            return EMPTY_ANSWERS[call]
        if callable(self.script):
            return self.script(call, messages)
        if call not in self.script:
            return EMPTY_ANSWERS[call]
        answers = self.script[call]
        if not isinstance(answers, list):
            return answers
        turn = self._turns.get(call, 0)
        self._turns[call] = turn + 1
        return answers[min(turn, len(answers) - 1)]

    async def _create(self, **kwargs: Any) -> ChatCompletion:
        schema_name = kwargs["response_format"]["json_schema"]["name"]
        call = _CALL_BY_MODEL.get(schema_name, schema_name)
        messages = list(kwargs["messages"])
        self.calls.append((call, messages))
        self.answered += 1
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        answer = self._answer(call, messages)
        if isinstance(answer, BaseException):
            raise answer
        content = answer if isinstance(answer, str) else json.dumps(answer)
        prompt_chars = sum(len(str(m.get("content", ""))) for m in messages)
        return ChatCompletion(
            id=f"fake-{self.answered}",
            object="chat.completion",
            created=0,
            model=FAKE_MODEL,
            choices=[
                Choice(index=0, finish_reason="stop", message=ChatCompletionMessage(role="assistant", content=content))
            ],
            usage=CompletionUsage(
                prompt_tokens=prompt_chars // 4,
                completion_tokens=len(content) // 4,
                total_tokens=prompt_chars // 4 + len(content) // 4,
            ),
        )
