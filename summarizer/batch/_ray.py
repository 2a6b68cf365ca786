"""``summarizer batch --runner ray``: the articles are summarized by Ray actors, on this machine or a cluster.

The driver (this process) reads the input, checks each article, answers from the result cache, and keeps the
output file and its state store, exactly as the local runner does: resume, ``--retry-failed``, the cache and
the closing report behave the same. Only the summarizing goes to the actors. Each actor holds its own
``Summarizer`` and backend (an endpoint given by ``--base-url``, or the embedded model: one llama.cpp server per
actor) and takes up to ``per_actor`` articles at once.

A worker that dies mid-article is restarted by Ray and the article is tried again on it (``TASK_RETRIES``
times); the output gets that article once, because only the driver writes it. A killed driver loses nothing
either: the next run resumes from the output file.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Any

import ray
from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

from .._input import Article
from ..config import Settings
from ..errors import ErrorCode, SummarizerError
from ..pipeline import Summarizer
from ..schemas import SummaryResult

#: How often an article is tried again on a restarted actor after its actor died under it.
TASK_RETRIES = 3


class SummarizerActor:
    """One Ray actor: a ``Summarizer`` with its own backend. The result cache stays with the driver."""

    def __init__(self, settings: Settings) -> None:
        self.engine = Summarizer(settings.model_copy(update={"no_cache": True}))

    async def compute(self, article: Article) -> str:
        result = await self.engine.compute(article)
        return result.model_dump_json()

    def pid(self) -> int:
        return os.getpid()


@dataclass
class RayOptions:
    #: ``None`` starts a Ray instance on this machine; ``"auto"`` joins the one running here (``ray start``);
    #: ``"ray://host:10001"`` connects to a remote cluster.
    address: str | None = None
    #: Actors to start; default: one per CPU the cluster has for an endpoint, one per node for the local model.
    actors: int | None = None
    #: Articles one actor works on at once; default: the settings' ``concurrency``.
    per_actor: int | None = None
    #: CPUs of a Ray instance started here (default: all of this machine's).
    num_cpus: int | None = None


class RayRunner:
    """Actors that compute summaries for ``run_batch`` (its ``compute``); ``async with`` starts and stops them."""

    def __init__(self, settings: Settings, options: RayOptions | None = None) -> None:
        self.settings = settings
        self.options = options or RayOptions()
        self.actors: list[Any] = []
        self._idle: asyncio.Queue[Any] | None = None
        self._started_ray = False

    @property
    def concurrency(self) -> int:
        """Articles in flight at once over all actors."""
        return len(self.actors) * self.per_actor

    @property
    def per_actor(self) -> int:
        return self.options.per_actor or self.settings.concurrency

    def _default_actors(self) -> int:
        if self.settings.backend_name == "local":  # one llama.cpp server per machine: more would share its cores
            return max(1, sum(1 for node in ray.nodes() if node.get("Alive")))
        return max(1, int(ray.cluster_resources().get("CPU", 1)))

    async def __aenter__(self) -> RayRunner:
        self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            if self.options.address is None:
                kwargs["num_cpus"] = self.options.num_cpus
            ray.init(address=self.options.address, **kwargs)
            self._started_ray = True
        count = self.options.actors or self._default_actors()
        actor_class = ray.remote(SummarizerActor).options(
            num_cpus=1,
            max_restarts=-1,
            max_task_retries=TASK_RETRIES,
            max_concurrency=self.per_actor,
        )
        self.actors = [actor_class.remote(self.settings) for _ in range(count)]
        self._idle = None

    def stop(self) -> None:
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False

    def pids(self) -> list[int]:
        """The process ids of the actors (as they are now: a restarted actor has a new one)."""
        return list(ray.get([actor.pid.remote() for actor in self.actors]))

    async def compute(self, article: Article) -> SummaryResult:
        """Summarize one checked article on the next free actor; errors come back as the library's errors."""
        if self._idle is None:  # made in the running loop
            self._idle = asyncio.Queue()
            for actor in self.actors:
                for _ in range(self.per_actor):
                    self._idle.put_nowait(actor)
        actor = await self._idle.get()
        try:
            raw = await actor.compute.remote(article)
        except RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, SummarizerError):
                raise cause from None
            raise
        except (ActorDiedError, ActorUnavailableError) as exc:
            raise SummarizerError(
                f"the Ray worker died {TASK_RETRIES + 1} times on this article: {exc}", code=ErrorCode.WORKER_LOST
            ) from None
        finally:
            self._idle.put_nowait(actor)
        return SummaryResult.model_validate_json(raw)
