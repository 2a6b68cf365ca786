"""`summarizer summarize` and `summarizer schema`."""

from __future__ import annotations

import asyncio
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .._input import decode_bytes
from ..config import Settings
from ..errors import ErrorCode, InputError
from ..pipeline import Summarizer
from ..schemas import ArticleSummary, SummaryResult
from ._errors import exit_on_error
from ._options import with_settings
from ._progress import ModelBar
from ._render import render_markdown, render_table


class OutputFormat(StrEnum):
    json = "json"
    table = "table"
    markdown = "markdown"


def _read(path: str) -> tuple[str, bool]:
    """The article's text and whether it is HTML (by extension, or by a leading tag on stdin)."""
    if path == "-":
        data = sys.stdin.buffer.read()
        text = decode_bytes(data, what="standard input")
        return text, text.lstrip().lower().startswith(("<!doctype html", "<html"))
    file = Path(path)
    if not file.is_file():
        raise InputError(f"no such file: {path}", code=ErrorCode.FILE_NOT_FOUND)
    text = decode_bytes(file.read_bytes(), what=path)
    return text, file.suffix.lower() in (".html", ".htm")


async def _summarize(settings: Settings, text: str | None, **source: Any) -> SummaryResult:
    engine = Summarizer(settings, progress=ModelBar())
    try:
        return await engine.summarize(text, **source)
    finally:
        await engine.aclose()


@with_settings
def summarize_command(
    file: Annotated[str, typer.Argument(help="Article file (.txt, .md, .html) or - for standard input.")],
    published: Annotated[
        str | None, typer.Option(help="Publication date, YYYY-MM-DD (resolves meeting dates).")
    ] = None,
    title: Annotated[str | None, typer.Option(help="Article title.")] = None,
    url: Annotated[str | None, typer.Option(help="Article URL.")] = None,
    format: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="json, table or markdown. Default: table on a terminal, JSON when piped."),
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Summarize one article into grounded records."""
    with exit_on_error():
        text, is_html = _read(file)
        result: SummaryResult = asyncio.run(
            _summarize(
                settings,
                None if is_html else text,
                html=text if is_html else None,
                title=title,
                url=url,
                published=published,
            )
        )
    chosen = format or (OutputFormat.table if sys.stdout.isatty() else OutputFormat.json)
    if chosen is OutputFormat.json:
        sys.stdout.write(result.model_dump_json(indent=2) + "\n")
    elif chosen is OutputFormat.markdown:
        sys.stdout.write(render_markdown(result))
    else:
        render_table(result, Console())


def schema_command(
    which: Annotated[str, typer.Argument(help="summary (the records) or result (the whole envelope).")] = "result",
) -> None:
    """Print the JSON Schema of the output, for other services."""
    models = {"summary": ArticleSummary, "result": SummaryResult}
    if which not in models:
        raise typer.BadParameter(f"choose one of {sorted(models)}")
    sys.stdout.write(json.dumps(models[which].model_json_schema(), indent=2) + "\n")
