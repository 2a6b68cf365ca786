"""Running the API with uvicorn: ``serve`` for the command line, ``ServerThread`` for tests and embedding."""

from __future__ import annotations

import gc
import os
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from ..backends import Backend
from ..config import Settings
from ..errors import ConfigError
from ._app import create_app
from ._logging import log_config

FACTORY = "summarizer.api._server:served_app_from_env"
KEEP_ALIVE_S = 75
#: Net allocations of container objects between two collections of the collector's youngest generation in a
#: ``summarizer serve`` process (Python's default is 700). Each request in flight keeps a few thousand such
#: objects alive for the whole of its model calls (the middleware stack's coroutines, messages, parsed answers,
#: records); at the default the collector walks them every few requests, each walk a pause of every request in
#: flight. Objects that die young are never walked; cycles are still collected, only later.
SERVING_GC_THRESHOLD = 20_000


def tune_for_serving() -> None:
    """Process-wide tuning of a process that does nothing but serve the API (``summarizer serve`` and its
    workers; an application that embeds ``create_app`` keeps its own): the collector's serving threshold, and
    what is loaded so far (libraries, schemas, prompts), which lives as long as the process, moved out of the
    collector's generations so that full collections stay short."""
    gc.set_threshold(SERVING_GC_THRESHOLD, *gc.get_threshold()[1:])
    gc.collect()
    gc.freeze()


def served_app_from_env() -> FastAPI:
    """The factory of ``summarizer serve``'s worker processes: the app from ``SUMMARIZER_*``, in a tuned process."""
    app = create_app(Settings())
    tune_for_serving()
    return app


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(_env_value(v) for v in value)
    return str(value)


def settings_env(settings: Settings) -> dict[str, str | None]:
    """The ``SUMMARIZER_*`` variables that rebuild ``settings`` in a worker process (None: unset it)."""
    return {
        f"SUMMARIZER_{name.upper()}": None if (value := getattr(settings, name)) is None else _env_value(value)
        for name in Settings.model_fields
    }


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    backend: Backend | None = None,
) -> None:
    """Serve until interrupted. With several workers each process builds its app from the environment
    (so ``backend``, an object, can only be given to a single worker)."""
    if backend is not None and workers > 1:
        raise ConfigError("a backend object can be shared by one worker only; use --workers 1")
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_config": log_config(),
        "access_log": False,  # the app logs one JSON line per request itself
        "lifespan": "on",
        "server_header": False,
        # longer than the usual 60 s idle timeout of proxies and clients' pools, so that an idle connection is
        # closed by them and not by the server just as they reuse it (a lost request to the caller)
        "timeout_keep_alive": KEEP_ALIVE_S,
    }
    if workers > 1:
        for key, value in settings_env(settings).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        uvicorn.run(FACTORY, factory=True, workers=workers, **common)
    else:
        app = create_app(settings, backend)
        tune_for_serving()
        uvicorn.run(app, **common)


class ServerThread:
    """The API served by uvicorn on 127.0.0.1 in a background thread: ``with ServerThread(app) as s: s.url``.

    The socket is bound before the thread starts (port 0 picks a free one), so there is no race for the port.
    """

    def __init__(self, app: FastAPI, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 20.0) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        config = uvicorn.Config(
            app,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
            timeout_keep_alive=KEEP_ALIVE_S,
        )
        self.server = uvicorn.Server(config)
        self.startup_timeout = startup_timeout
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the API server stopped during startup (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the API server did not start within {self.startup_timeout:g} s")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self.server.force_exit = True
            self._thread.join(timeout)
        self.sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
