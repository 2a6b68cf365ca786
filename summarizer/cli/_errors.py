"""Exit codes and error printing shared by every command."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from ..errors import BackendError, SummarizerError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BACKEND = 3

err_console = Console(stderr=True)


@contextmanager
def exit_on_error() -> Iterator[None]:
    """Print a one-line error and exit 2 for bad input or settings, 3 for backend failures."""
    try:
        yield
    except BackendError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
        raise typer.Exit(EXIT_BACKEND) from None
    except SummarizerError as exc:
        err_console.print(f"[bold red]error[/] ({exc.code}): {exc.message}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
