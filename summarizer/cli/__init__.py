"""The `summarizer` command line."""

from __future__ import annotations

import logging
import sys

import typer

from ._batch import batch_command
from ._eval import eval_command
from ._serve import serve_command
from ._summarize import schema_command, summarize_command
from ._view import view_command

app = typer.Typer(
    name="summarizer",
    help="Strict, typed, source-grounded summaries of news about diplomacy and conflict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


class _StderrWarnings(logging.Handler):
    """The library's warnings (a damaged cache moved aside, a cache write that failed) as plain lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        print(f"warning: {record.getMessage()}", file=sys.stderr)


@app.callback()
def _setup(ctx: typer.Context) -> None:
    # `serve` logs through uvicorn as JSON lines; the other commands show the library's warnings as text.
    if ctx.invoked_subcommand != "serve":
        logger = logging.getLogger("summarizer")
        if not any(isinstance(h, _StderrWarnings) for h in logger.handlers):
            handler = _StderrWarnings(logging.WARNING)
            logger.addHandler(handler)


app.command("summarize")(summarize_command)
app.command("schema")(schema_command)
app.command("batch")(batch_command)
app.command("serve")(serve_command)
app.command("eval")(eval_command)
app.command("view")(view_command)


def main() -> None:
    app()
