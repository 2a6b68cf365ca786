"""The protocol every backend implements; the pipeline knows nothing else about models."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from ..schemas import Usage

T = TypeVar("T", bound=BaseModel)

#: Model names recorded when none is configured (the openai backend) or there is no model (the fake backend);
#: ``backend_identity`` reports them without importing the backends.
OPENAI_DEFAULT_MODEL = "default"
FAKE_MODEL = "fake"


@dataclass
class CallResult:
    """One validated model answer and what it cost, every attempt counted."""

    parsed: BaseModel
    usage: Usage = field(default_factory=Usage)
    ms: float = 0.0


@runtime_checkable
class Backend(Protocol):
    name: str
    model: str

    async def call(self, name: str, messages: list[dict[str, Any]], response_model: type[BaseModel]) -> CallResult:
        """Ask the model to fill ``response_model``; raise a ``BackendError`` subclass on failure."""
        ...

    async def ready(self) -> bool:
        """True when the backend can take a request now."""
        ...

    async def aclose(self) -> None: ...
