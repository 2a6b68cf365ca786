"""The API on the real embedded model (llama.cpp on this CPU): one short article, end to end."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from summarizer import Settings, SummaryResult
from summarizer.api import ServerThread, create_app
from summarizer.config import default_cache_dir

ARTICLE = (
    "Russian President Vladimir Putin said Thursday that a US-backed peace proposal could form the basis for "
    "negotiations. A US delegation led by special envoy Steve Witkoff is expected to arrive in Moscow in the first "
    "half of next week. Russia currently controls approximately 20% of Ukrainian territory."
)


@pytest.mark.local_model
def test_summary_from_the_local_model(tmp_path: Path) -> None:
    settings = Settings(
        backend="local",
        cache_dir=default_cache_dir(),  # the assembled model is shared with every other local run
        api_batch_db=tmp_path / "batches.sqlite3",
        no_cache=True,
        api_timeout=900,
    )
    with ServerThread(create_app(settings)) as server, httpx.Client(base_url=server.url, timeout=900) as client:
        deadline = time.monotonic() + 300
        while (ready := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert ready.json() == {"ready": True, "backend": "local", "result_cache": None, "batch_store": True}
        response = client.post("/v1/summaries", json={"text": ARTICLE, "published": "2025-11-27"})
        metrics = client.get("/metrics").text
    assert response.status_code == 200, response.text
    result = SummaryResult.model_validate_json(response.content)
    assert result.provenance.backend == "local" and result.summary.summary
    assert result.usage.model_calls >= 5 and result.usage.completion_tokens > 0
    assert f"summarizer_backend_calls_total {float(result.usage.model_calls)}\n" in metrics
    kept = sum(len(getattr(result.summary, c)) for c in ("actors", "positions", "demands", "territorial_figures",
                                                           "upcoming_meetings"))  # fmt: skip
    assert result.grounding.counts.grounded_items == kept  # whatever is kept has its evidence in the article
