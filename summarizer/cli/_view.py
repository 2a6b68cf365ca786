"""`summarizer view`: a batch's output as browsable pages (an index with counts and filters, a page per article)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from .._input import prepare_article
from ..batch import read_records, scan_output
from ..errors import ErrorCode, InputError
from ..review import write_site
from ._errors import err_console, exit_on_error


def _lines(results: Path) -> list[dict[str, Any]]:
    """The output's lines that count (one per id: a superseded line of a retried record is left out)."""
    current = {record_id: (offset, length) for record_id, _status, offset, length in scan_output(results)}
    out = []
    with results.open("rb") as file:
        for offset, length in sorted(current.values()):
            file.seek(offset)
            out.append(json.loads(file.read(length)))
    return out


def view_command(
    results: Annotated[Path, typer.Argument(help="A batch's JSON Lines output (summarizer batch --out).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for index.html and the pages.")],
    source: Annotated[
        Path | None,
        typer.Option(
            "--input",
            help="The batch's input (directory or JSON Lines): with it each page shows the article with its "
            "evidence highlighted; without it, each record with its quotes.",
        ),
    ] = None,
) -> None:
    """Pages for a batch's results: index.html (counts per article, filters) and one page per article."""
    with exit_on_error():
        if not results.is_file():
            raise InputError(f"no such file: {results}", code=ErrorCode.FILE_NOT_FOUND)
        if source is not None and not source.exists():
            raise InputError(f"no such file or directory: {source}", code=ErrorCode.FILE_NOT_FOUND)
        lines = _lines(results)
        texts: dict[str, str] = {}
        if source is not None:
            wanted = {str(line.get("id")) for line in lines if line.get("status") == "done"}
            for record in read_records(source, max_chars=10**9):
                if record.id in wanted and record.source is not None and record.error is None:
                    try:
                        texts[record.id] = prepare_article(record.source, max_chars=10**9).text
                    except InputError:
                        continue
        try:
            pages, failed = write_site(lines, texts, out, title=f"summarizer · {results.name}")
        except OSError as exc:
            message = f"cannot write the pages to {out}: {exc.strerror or exc}"
            raise InputError(message, code=ErrorCode.BAD_OPTION) from exc
    err_console.print(
        f"wrote {out / 'index.html'}: {pages} pages, {failed} failed records listed"
        + (f"; {len(texts)} with their article text" if source is not None else "")
    )
