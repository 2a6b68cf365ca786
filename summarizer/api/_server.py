"""Running the API with uvicorn: ``serve`` for the command line, ``ServerThread`` for tests and embedding."""

from __future__ import annotations

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

FACTORY = "summarizer.api:app_from_env"
KEEP_ALIVE_S = 75


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
        uvicorn.run(create_app(settings, backend), **common)


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
