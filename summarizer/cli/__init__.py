"""The `summarizer` command line."""

from __future__ import annotations

import typer

from ._batch import batch_command
from ._eval import eval_command
from ._serve import serve_command
from ._summarize import schema_command, summarize_command

app = typer.Typer(
    name="summarizer",
    help="Strict, typed, source-grounded summaries of news about diplomacy and conflict.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("summarize")(summarize_command)
app.command("schema")(schema_command)
app.command("batch")(batch_command)
app.command("serve")(serve_command)
app.command("eval")(eval_command)


def main() -> None:
    app()
