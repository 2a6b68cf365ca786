"""Settings (SPEC §4): environment variables with the ``SUMMARIZER_`` prefix, each also a CLI flag.

With nothing configured the ``local`` backend serves: no key, no network.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

BackendName = Literal["local", "openai", "fake"]


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "summarizer"


class Settings(BaseSettings):
    """Every knob of summarizer. Field descriptions double as CLI help."""

    model_config = SettingsConfigDict(env_prefix="SUMMARIZER_", extra="ignore", validate_default=True)

    backend: BackendName | None = Field(
        None,
        description="Model backend: local (embedded llama.cpp model), openai (any OpenAI-compatible "
        "endpoint), fake (scripted, for tests). Default: openai when a base URL is set, else local.",
    )
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1.")
    api_key: SecretStr | None = Field(None, description="API key for the endpoint (never logged).")
    model: str | None = Field(None, description="Model name sent to the endpoint.")
    model_path: Path | None = Field(None, description="A GGUF file for the local backend instead of the embedded one.")
    local_model: Literal["default", "small"] = Field(
        "default", description="Embedded model for the local backend: default (1.5B) or small (0.5B)."
    )
    local_threads: int | None = Field(
        None, ge=1, le=512, description="CPU threads for the local model. Default: all cores of the machine."
    )
    local_ctx: int = Field(
        4096, ge=512, le=131072, description="Context window (tokens) of the local model: article, task and answer."
    )
    local_start_timeout: float = Field(
        120.0, gt=0, description="Seconds to wait for the local model server to start before giving up."
    )
    response_format: Literal["json_schema", "json_object"] = Field(
        "json_schema",
        description="How the schema is sent: json_schema (OpenAI, vLLM, Ollama, llama-server) or json_object "
        "(llama-cpp-python's server).",
    )
    request_timeout: float = Field(300.0, gt=0, description="Seconds before one model request times out.")
    max_retries: int = Field(3, ge=0, le=10, description="Transport retries per model request (429, 5xx, timeouts).")
    max_reasks: int = Field(1, ge=0, le=5, description="Re-asks when the model's output fails schema validation.")
    concurrency: int = Field(4, ge=1, le=256, description="Articles processed at once (batch job and API).")
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Where models and results are cached.")
    no_cache: bool = Field(False, description="Do not read or write the result cache.")
    price_per_1k_prompt_tokens: float | None = Field(
        None, ge=0, description="Price of 1,000 prompt tokens, for the batch job's cost estimate (any currency)."
    )
    price_per_1k_completion_tokens: float | None = Field(
        None, ge=0, description="Price of 1,000 completion tokens, for the batch job's cost estimate."
    )
    batch_price_share: float = Field(
        0.5, gt=0, le=1, description="Share of the live price a provider's batch API charges (OpenAI: half)."
    )
    batch_poll_s: float = Field(
        10.0, gt=0, description="First wait between status reads of a provider batch (grows to 60 s)."
    )
    batch_max_requests: int = Field(50_000, ge=1, description="Requests per provider batch file at most.")
    batch_max_bytes: int = Field(190_000_000, ge=10_000, description="Bytes per provider batch file at most.")
    batch_rounds: int = Field(
        6, ge=1, le=20, description="Provider batch rounds at most (re-asks, retries of failed or expired requests)."
    )
    max_input_chars: int = Field(200_000, gt=0, description="Reject articles longer than this many characters.")
    chunk_chars: int = Field(
        6_000, ge=500, description="Split articles longer than this (characters) on paragraph boundaries."
    )
    prompt_file: Path | None = Field(None, description="A prompt YAML file to use instead of the packaged one.")
    fake_script: Path | None = Field(None, description="JSON file of scripted outputs for the fake backend.")
    fake_latency_ms: int = Field(0, ge=0, description="Fixed latency of each fake backend call.")
    api_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list, description="Bearer tokens accepted by the HTTP API, comma-separated. Empty: no auth."
    )
    api_admin_keys: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Bearer tokens that are also accepted and see every caller's batches, comma-separated.",
    )
    api_key_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="With keys configured: the share of running + waiting request slots one key may hold (then 429).",
    )
    api_timeout: float = Field(
        600.0, gt=0, description="Seconds before an HTTP summary request gives up with 504 (queue wait included)."
    )
    api_queue_size: int = Field(
        64, ge=0, le=100_000, description="HTTP requests that may wait for a free slot; beyond that, 429."
    )
    api_max_body_bytes: int = Field(
        10_000_000, gt=0, description="Largest HTTP request body accepted, in bytes; larger gets 413."
    )
    api_max_batch_articles: int = Field(
        1000, ge=1, description="Most articles one POST /v1/batches may carry; more gets 413."
    )
    api_batch_db: Path | None = Field(
        None, description="SQLite file of HTTP batches and their results. Default: <cache_dir>/api-batches.sqlite3."
    )

    @field_validator("api_keys", "api_admin_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [k.strip() for k in value.split(",") if k.strip()]
        return value

    @model_validator(mode="after")
    def _pick_backend(self) -> Settings:
        if self.backend is None:
            self.backend = "openai" if self.base_url else "local"
        return self

    @property
    def backend_name(self) -> BackendName:
        assert self.backend is not None
        return self.backend

    def options_fingerprint(self) -> dict[str, object]:
        """Settings that change what the model produces (they go into the result id)."""
        return {"temperature": self.temperature, "chunk_chars": self.chunk_chars, "max_reasks": self.max_reasks}
