"""Backend registry: names map to lazily imported factories, with an install hint when extras are missing."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import FAKE_MODEL, OPENAI_DEFAULT_MODEL, Backend, CallResult

if TYPE_CHECKING:
    from ..config import Settings
    from ._gguf import Progress

# name -> (module, class, what to install when its imports are missing)
_REGISTRY: dict[str, tuple[str, str, str]] = {
    "openai": ("summarizer.backends.openai", "OpenAIBackend", "pip install summarizer"),
    "fake": ("summarizer.backends.fake", "FakeBackend", "pip install summarizer"),
    "local": ("summarizer.backends.local", "LocalBackend", "pip install 'summarizer[local]'"),
}


def available_backends() -> list[str]:
    return list(_REGISTRY)


def backend_identity(settings: Settings) -> tuple[str, str]:
    """``(name, model)`` of the backend the settings name, without importing it (result ids, cache keys).

    Equal to ``(backend.name, backend.model)`` of ``create_backend(settings)``; a cached run never has to
    load the OpenAI SDK or start a model server.
    """
    name = settings.backend_name
    if name == "local":
        from ._gguf import model_id

        return name, model_id(settings)
    if name == "openai":
        return name, settings.model or OPENAI_DEFAULT_MODEL
    if name == "fake":
        return name, FAKE_MODEL
    raise ConfigError(f"unknown backend {name!r}; choose one of {available_backends()}")


def create_backend(settings: Settings, *, progress: Progress | None = None) -> Backend:
    """Instantiate the backend the settings name. ``progress`` hears the local model's first assembly."""
    name = settings.backend_name
    try:
        module_name, class_name, hint = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown backend {name!r}; choose one of {available_backends()}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"the {name} backend needs packages that are not installed ({exc.name}): {hint}") from exc
    factory = getattr(module, class_name)
    backend: Backend = factory(settings, progress=progress) if name == "local" else factory(settings)
    return backend


__all__ = ["Backend", "CallResult", "available_backends", "backend_identity", "create_backend"]
