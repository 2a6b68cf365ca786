"""The HTTP API (SPEC §5): ``create_app(settings, backend=None)`` builds the FastAPI app.

Run it with ``summarizer serve`` or any ASGI server (``uvicorn --factory summarizer.api:app_from_env``).
Needs the ``api`` extra: ``pip install 'summarizer[api]'``.
"""

from ._app import Runtime, batch_db_path, create_app
from ._app import app_from_env as app_from_env
from ._server import ServerThread, serve, settings_env

__all__ = ["Runtime", "ServerThread", "app_from_env", "batch_db_path", "create_app", "serve", "settings_env"]
