"""Request and response bodies of the HTTP API (the 200 body of a summary is ``SummaryResult`` itself)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import JsonDict

from .._input import ArticleInput

BatchState = Literal["queued", "running", "done", "failed"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: "Exactly one of text or html" in JSON Schema terms (an explicit null counts as absent).
ONE_BODY: dict[str, Any] = {
    "oneOf": [
        {"required": ["text"], "properties": {"text": {"type": "string"}, "html": {"type": "null"}}},
        {"required": ["html"], "properties": {"html": {"type": "string"}, "text": {"type": "null"}}},
    ]
}


class ArticleIn(Strict):
    """One article: exactly one of ``text`` or ``html``; ``published`` resolves relative meeting dates."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=cast(JsonDict, ONE_BODY))

    text: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="The article as plain UTF-8 text. Give this or html.", examples=["Putin said on Thursday…"]
    )
    html: Annotated[str, Field(min_length=1)] | None = Field(
        None, description="The article page as HTML; the main text is extracted. Give this or text."
    )
    title: Annotated[str, Field(max_length=1000)] | None = Field(None, description="Article title.")
    url: Annotated[str, Field(max_length=4000)] | None = Field(None, description="Where the article was published.")
    published: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="Publication date, ISO YYYY-MM-DD (a datetime is cut to its date).", examples=["2025-11-27"]
    )

    @model_validator(mode="after")
    def _one_body(self) -> ArticleIn:
        if (self.text is None) == (self.html is None):
            raise ValueError("give exactly one of text or html")
        return self

    def source(self) -> ArticleInput:
        return ArticleInput(self.text, self.html, self.title, self.url, self.published)


class BatchArticle(ArticleIn):
    id: Annotated[str, Field(min_length=1, max_length=200)] | None = Field(
        None, description="Your id for the article, unique in the batch. Default: its position, from 1."
    )


class BatchIn(Strict):
    articles: Annotated[list[BatchArticle], Field(min_length=1)] = Field(
        description="The articles to summarize (at most the server's configured batch size)."
    )


class BatchStatus(Strict):
    id: str
    status: BatchState = Field(description="queued, running, done, or failed (the server could not record results).")
    total: int = Field(description="Articles in the batch.")
    done: int = Field(description="Articles with a result.")
    failed: int = Field(description="Articles with an error (their result line carries it).")
    pending: int = Field(description="Articles not finished yet.")
    progress: float = Field(description="Share of articles finished, 0 to 1.")
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    grounding_rate: float | None = Field(None, description="Share of extracted items whose evidence was found.")
    errors: dict[str, int] = Field(default_factory=dict, description="Failed articles by error code.")
    error: str | None = Field(None, description="Why the batch failed, when it did.")
    results_url: str


class ErrorDetail(Strict):
    code: str = Field(description="Stable machine-readable code, e.g. empty_input, overloaded, backend_timeout.")
    message: str = Field(description="What went wrong and what to do about it.")


class ErrorBody(Strict):
    error: ErrorDetail


class ArticleOut(Strict):
    """The article as the summarizer reads it: the text that a summary's quote offsets point into."""

    text: str
    title: str | None = None
    url: str | None = None
    published: dt.date | None = None
    warnings: list[str] = Field(default_factory=list)


class Health(Strict):
    status: Literal["ok"] = "ok"


class Readiness(Strict):
    ready: bool
    backend: str
    result_cache: bool | None = Field(None, description="Whether the result cache is usable; null when it is off.")
    batch_store: bool = Field(True, description="Whether the batches file is usable.")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer."""
    text = {
        400: "Malformed JSON.",
        401: "Missing or wrong bearer token.",
        404: "No such batch.",
        413: "Request body, article or batch too large.",
        422: "Invalid input: missing, empty or binary text, bad date, unknown field.",
        429: "Overloaded: too many requests waiting; retry after the Retry-After seconds.",
        500: "Server misconfigured (details in the server log).",
        502: "The model backend failed or answered invalid output.",
        503: "The model backend is unreachable.",
        504: "The request or the model backend timed out.",
    }
    return {s: {"model": ErrorBody, "description": text[s]} for s in statuses}
