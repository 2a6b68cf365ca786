"""`summarizer summarize` and `summarizer schema`."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer
from rich.console import Console

from .._input import Article, ArticleInput, decode_bytes
from ..config import Settings
from ..errors import ErrorCode, InputError
from ..pipeline import Summarizer
from ..review import page
from ..schemas import ArticleSummary, SummaryResult
from ._errors import err_console, exit_on_error
from ._options import with_settings
from ._progress import ModelBar
from ._render import render_markdown, render_table


class OutputFormat(StrEnum):
    json = "json"
    table = "table"
    markdown = "markdown"
    html = "html"


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


async def _summarize(settings: Settings, source: ArticleInput) -> tuple[SummaryResult, str]:
    """The result and the article's text as the summarizer read it. While the model works, a spinner on stderr
    names the call in progress (the model is assembled and its server started before, with their own bar)."""
    engine = Summarizer(settings, progress=ModelBar())
    article = engine.prepare(source)

    async def compute(article: Article) -> SummaryResult:
        start = getattr(engine.backend, "start", None)
        if start is not None:
            await start()
        with err_console.status("summarizing …", spinner="dots") as status:
            engine.on_call = lambda name: status.update(f"asking the model: {name} …")
            return await engine.compute(article)

    try:
        return await engine.summarize_article(article, compute=compute), article.text
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
        typer.Option(
            "--format",
            "-f",
            help="json, table, markdown or html (a page with the evidence highlighted and a review). Default: "
            "table on a terminal, JSON when piped.",
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the output to this file.")] = None,
    *,
    settings: Settings,
) -> None:
    """Summarize one article into grounded records."""
    with exit_on_error():
        if out is not None:
            _check_out(out)  # before the model's minutes, not after
        text, is_html = _read(file)
        source = ArticleInput(None if is_html else text, text if is_html else None, title, url, published)
        result, article_text = asyncio.run(_summarize(settings, source))
        chosen = format or (OutputFormat.table if sys.stdout.isatty() and out is None else OutputFormat.json)
        if chosen is OutputFormat.table:
            if out is None:
                render_table(result, Console())
                return
            with _writing(out) as target:
                render_table(result, Console(file=target, width=120))
        else:
            if chosen is OutputFormat.json:
                rendered = result.model_dump_json(indent=2) + "\n"
            elif chosen is OutputFormat.markdown:
                rendered = render_markdown(result)
            else:
                rendered = page(result, article_text, name="stdin.txt" if file == "-" else Path(file).name)
            if out is None:
                sys.stdout.write(rendered)
                return
            with _writing(out) as target:
                target.write(rendered)
        err_console.print(f"wrote {out}")


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise InputError(f"--out {out} is a directory; give a file path such as page.html", code=ErrorCode.BAD_OPTION)
    if not out.parent.is_dir():
        raise InputError(f"--out {out}: no such directory {out.parent}", code=ErrorCode.FILE_NOT_FOUND)


@contextmanager
def _writing(out: Path) -> Iterator[TextIO]:
    """``out`` open for writing; a failure to write is an input error naming the file, not a traceback."""
    try:
        with out.open("w", encoding="utf-8") as target:
            yield target
    except OSError as exc:
        raise InputError(f"cannot write --out {out}: {exc.strerror or exc}", code=ErrorCode.BAD_OPTION) from exc


def schema_command(
    which: Annotated[str, typer.Argument(help="summary (the records) or result (the whole envelope).")] = "result",
) -> None:
    """Print the JSON Schema of the output, for other services."""
    models = {"summary": ArticleSummary, "result": SummaryResult}
    if which not in models:
        raise typer.BadParameter(f"choose one of {sorted(models)}")
    sys.stdout.write(json.dumps(models[which].model_json_schema(), indent=2) + "\n")
