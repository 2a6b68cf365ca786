"""`summarizer serve`: the HTTP API under uvicorn."""

from __future__ import annotations

from typing import Annotated

import typer

from ..config import Settings
from ..errors import ConfigError
from ._errors import exit_on_error
from ._options import with_settings


@with_settings
def serve_command(
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes, each with its own backend client.", min=1)] = 1,
    *,
    settings: Settings,
) -> None:
    """Serve the HTTP API: POST /v1/summaries, /v1/batches, /healthz, /readyz, /metrics, docs at /docs."""
    with exit_on_error():
        try:
            from ..api import serve
        except ImportError as exc:
            raise ConfigError(
                f"the HTTP API needs packages that are not installed ({exc.name}): pip install 'summarizer[api]'"
            ) from exc
        serve(settings, host=host, port=port, workers=workers)
