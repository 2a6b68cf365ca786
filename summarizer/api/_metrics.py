"""Prometheus metrics of one server process: requests, latencies, backend calls, retries, tokens, grounding.

Each app has its own registry, so several apps in one process (tests, embedding) do not collide. With
``--workers N`` every worker exposes its own counts; scrape each or aggregate them in Prometheus.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ..schemas import SummaryResult

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "summarizer_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "summarizer_http_request_duration_seconds",
            "Time from request to the end of the response.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("summarizer_summaries_running", "Summaries running now (HTTP requests).", registry=r)
        self.waiting = Gauge("summarizer_summaries_waiting", "HTTP summary requests waiting for a slot.", registry=r)
        self.overloaded = Counter("summarizer_overloaded", "Requests refused with 429 (queue full).", registry=r)
        self.articles = Counter(
            "summarizer_articles", "Articles summarized, by where they came from and the outcome.",
            ["source", "outcome"], registry=r,
        )  # fmt: skip
        self.backend_calls = Counter("summarizer_backend_calls", "Model calls that got an answer.", registry=r)
        self.backend_retries = Counter(
            "summarizer_backend_retries", "Transport retries plus validation re-asks.", registry=r
        )
        self.backend_errors = Counter(
            "summarizer_backend_errors", "Articles that failed in the backend, by error code.", ["code"], registry=r
        )
        self.tokens = Counter("summarizer_tokens", "Model tokens, every attempt counted.", ["kind"], registry=r)
        self.grounding = Counter(
            "summarizer_grounding_items", "Extracted items by whether their evidence was found.", ["status"], registry=r
        )
        self.grounding_rate = Gauge(
            "summarizer_grounding_rate", "Share of extracted items whose evidence was found, since start.", registry=r
        )
        self._grounded = 0
        self._items = 0

    def observe_result(self, result: SummaryResult, *, source: str) -> None:
        self.articles.labels(source, "ok").inc()
        usage = result.usage
        self.backend_calls.inc(usage.model_calls)
        self.backend_retries.inc(usage.retries)
        self.tokens.labels("prompt").inc(usage.prompt_tokens)
        self.tokens.labels("completion").inc(usage.completion_tokens)
        counts = result.grounding.counts
        self.grounding.labels("grounded").inc(counts.grounded_items)
        self.grounding.labels("ungrounded").inc(counts.ungrounded_items)
        self._grounded += counts.grounded_items
        self._items += counts.grounded_items + counts.ungrounded_items
        if self._items:
            self.grounding_rate.set(self._grounded / self._items)

    def observe_error(self, code: str, *, source: str, backend: bool) -> None:
        self.articles.labels(source, "error").inc()
        if backend:
            self.backend_errors.labels(code).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
