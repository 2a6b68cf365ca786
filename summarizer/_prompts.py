"""Prompt templates: YAML files with a version, rendered with Jinja's sandbox and StrictUndefined.

A missing, malformed or incomplete template is an error at load time, never a silent fallback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import TemplateError
from .grounding import plain
from .schemas import CALLS

ARTICLE_VARIABLES = frozenset({"text", "title", "published"})
TASK_VARIABLES = frozenset({"fields"})
RETRY_VARIABLES = frozenset({"rejected"})
_STRING_LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')


def example_values(texts: list[str]) -> frozenset[str]:
    """Every double-quoted string in the task texts (the invented examples' sentences, names and values), plain."""
    found: set[str] = set()
    for text in texts:
        for literal in _STRING_LITERAL.findall(text):
            try:
                value = json.loads(f'"{literal}"')
            except ValueError:
                value = literal
            found.add(plain(value))
    found.discard("")
    return frozenset(found)


def describe_fields(call_model: type[BaseModel]) -> str:
    """The field descriptions of the items a call fills: the schema is the prompt's one source of truth."""
    for field in call_model.model_fields.values():
        args = getattr(field.annotation, "__args__", ())
        item = args[0] if args and isinstance(args[0], type) and issubclass(args[0], BaseModel) else None
        if item is not None:
            return "\n".join(f"- {name}: {f.description or ''}".rstrip() for name, f in item.model_fields.items())
    raise TypeError(f"{call_model.__name__} has no list of records")


class PromptFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str
    system: str
    article: str
    tasks: dict[str, str]
    #: Calls made once per passage of the article (the article stays whole before the task; the passage follows
    #: it), so a long article's records are listed part by part instead of stopping after the first few.
    passage_calls: list[str] = []
    passage_chars: int = Field(2500, ge=500, le=100_000)
    #: Follows a call's task when records of its answer failed a support check: the task is asked once more with
    #: those records and the reasons (``rejected``). No ``retry``: rejected records are not re-asked.
    retry: str | None = None


@dataclass(frozen=True)
class PromptSet:
    """A loaded, checked prompt file. The system text and each call's task are rendered once, at load time."""

    path: str
    version: str
    _system: str
    _article: Any
    _tasks: dict[str, str]
    #: What the examples in the tasks say (see ``example_values``): an answer repeating one of them that the
    #: article does not contain was copied from the prompt.
    examples: frozenset[str]
    #: Calls made once per passage of at most ``passage_chars`` characters (see ``PromptFile``).
    passage_calls: frozenset[str] = frozenset()
    passage_chars: int = 2500
    _retry: Any = None

    @property
    def retries(self) -> bool:
        """Whether records that fail a support check are re-asked (the file has a ``retry`` template)."""
        return self._retry is not None

    def article(self, *, text: str, title: str | None, published: str | None) -> str:
        """The article part of the user message, the same for every call on that text."""
        try:
            return str(self._article.render(text=text, title=title, published=published)).rstrip()
        except UndefinedError as exc:  # pragma: no cover - variables are checked at load time
            raise TemplateError(f"{self.path}: {exc}") from exc

    def messages(self, call: str, article: str, passage: str | None = None) -> list[dict[str, str]]:
        """Messages for one call: system and article first (shared by every call), the task last, then the
        passage of the article the task is limited to, if any.

        ``article`` is what ``article()`` rendered for the text.
        """
        task = self._tasks[call]
        if passage is not None:
            task += f"\nAnswer for this part of the article only:\n<<<PART\n{passage}\nPART>>>"
        return [
            {"role": "system", "content": self._system},
            {"role": "user", "content": article + "\n\n" + task},
        ]

    def retry_messages(self, call: str, article: str, rejected: str) -> list[dict[str, str]]:
        """Messages re-asking ``call`` about its ``rejected`` records (one per line, with the reason): the call's
        own messages with the ``retry`` text after the task, so the article's tokens are shared again."""
        if self._retry is None:
            raise TemplateError(f"{self.path}: no retry template")
        messages = self.messages(call, article)
        note = str(self._retry.render(rejected=rejected)).strip()
        messages[-1] = {"role": "user", "content": messages[-1]["content"] + "\n\n" + note}
        return messages


_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def _compile(path: str, name: str, source: str, allowed: frozenset[str]) -> Any:
    try:
        parsed = _ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{path}: template '{name}' line {exc.lineno}: {exc.message}") from exc
    unknown = meta.find_undeclared_variables(parsed) - allowed
    if unknown:
        raise TemplateError(
            f"{path}: template '{name}' uses unknown variable(s) {sorted(unknown)}; allowed: {sorted(allowed)}"
        )
    return _ENV.from_string(source)


def parse_prompt_file(path: str, raw: str) -> PromptSet:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: expected a mapping with version, system, article and tasks")
    try:
        spec = PromptFile.model_validate(data)
    except ValidationError as exc:
        raise TemplateError(f"{path}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
    missing = [c for c in CALLS if c not in spec.tasks]
    if missing:
        raise TemplateError(f"{path}: no task template for {missing}")
    extra = sorted(set(spec.tasks) - set(CALLS))
    if extra:
        raise TemplateError(f"{path}: unknown task(s) {extra}; known: {list(CALLS)}")
    unknown_passages = sorted(c for c in set(spec.passage_calls) if c not in CALLS or c == "overview")
    if unknown_passages:
        raise TemplateError(f"{path}: passage_calls {unknown_passages} are not record calls")
    tasks = {
        name: _compile(path, name, src, TASK_VARIABLES).render(fields=describe_fields(CALLS[name])).strip()
        for name, src in spec.tasks.items()
    }
    return PromptSet(
        path=path,
        version=spec.version,
        _system=_compile(path, "system", spec.system, frozenset()).render().strip(),  # the same for every call
        _article=_compile(path, "article", spec.article, ARTICLE_VARIABLES),
        _tasks=tasks,
        examples=example_values(list(tasks.values())),
        passage_calls=frozenset(spec.passage_calls),
        passage_chars=spec.passage_chars,
        _retry=None if spec.retry is None else _compile(path, "retry", spec.retry, RETRY_VARIABLES),
    )


@lru_cache(maxsize=16)
def load_prompts(path: Path | None = None) -> PromptSet:
    """Load a prompt file; ``None`` loads the packaged ``extract.yaml``."""
    if path is None:
        ref = resources.files("summarizer.prompts").joinpath("extract.yaml")
        return parse_prompt_file("summarizer/prompts/extract.yaml", ref.read_text(encoding="utf-8"))
    try:
        raw = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise TemplateError(f"prompt file not found: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise TemplateError(f"prompt file unreadable: {path}: {exc}") from exc
    return parse_prompt_file(str(path), raw)
