"""Recording model answers and replaying them, so the pipeline and scorer can be gated without a model.

A recording is one JSON file per article, ``<gold-stem>.json``: the validated answer of every model call,
keyed by call name (a list, in call order, since a chunked article calls each task once per chunk), plus
``_meta`` (backend, model, prompt version, usage and timings of the recorded run). The file is also a valid
``--fake-script`` for the fake backend, which ignores ``_meta``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from summarizer.backends import Backend, CallResult
from summarizer.errors import InputError
from summarizer.schemas import CALLS, SummaryResult

META = "_meta"


class RecordingBackend:
    """Delegates every call to another backend and keeps each validated answer as JSON."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self.model = inner.model
        self.answers: dict[str, list[dict[str, Any]]] = {}

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        result = await self.inner.call(name, messages, response_model)
        self.answers.setdefault(name, []).append(result.parsed.model_dump(mode="json"))
        return result

    def take(self) -> dict[str, list[dict[str, Any]]]:
        """The answers since the last ``take`` (one article's worth)."""
        answers, self.answers = self.answers, {}
        return answers

    async def ready(self) -> bool:
        return await self.inner.ready()

    async def aclose(self) -> None:
        await self.inner.aclose()


def write_recording(
    directory: Path, stem: str, answers: dict[str, list[dict[str, Any]]], result: SummaryResult, article: str
) -> Path:
    """Write one article's answers atomically (a crash never leaves half a file)."""
    p = result.provenance
    meta = {
        "article": article,
        "published": result.source.published.isoformat() if result.source.published else None,
        "backend": p.backend,
        "model": p.model,
        "prompt_version": p.prompt_version,
        "schema_version": p.schema_version,
        "summarizer_version": p.summarizer_version,
        "recorded_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "total_ms": round(result.timings.total_ms, 1),
        "calls": [c.model_dump() for c in result.timings.calls],
        "usage": result.usage.model_dump(),
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{stem}.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({META: meta, **answers}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_recording(directory: Path, stem: str) -> dict[str, Any]:
    """One article's recorded answers; a clear error when missing or malformed."""
    path = directory / f"{stem}.json"
    if not path.is_file():
        raise InputError(
            f"no recorded answers for {stem} in {directory} (record them with: summarizer eval --record {directory})",
            code="not_found",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"recording {path} unreadable: {exc}", code="bad_recording") from exc
    if not isinstance(data, dict) or not isinstance(data.get(META), dict):
        raise InputError(f"recording {path} has no {META} block; re-record it", code="bad_recording")
    unknown = sorted(set(data) - set(CALLS) - {META})
    if unknown:
        raise InputError(
            f"recording {path}: unknown call name(s) {unknown}; known: {list(CALLS)}", code="bad_recording"
        )
    return data
