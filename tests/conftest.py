from __future__ import annotations

from pathlib import Path

import pytest
from tenacity import wait_none

from summarizer.backends import openai as openai_backend

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _no_retry_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Transport retries run without sleeping in tests; Retry-After parsing is tested on its own."""
    monkeypatch.setattr(openai_backend, "wait_for_retry", wait_none())


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No SUMMARIZER_* setting from the developer's shell leaks into a test; caches go to a temp dir."""
    import os

    for key in list(os.environ):
        if key.startswith("SUMMARIZER_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("SUMMARIZER_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def seed_000() -> str:
    return (SEEDS / "000_4542c6a513510e75.txt").read_text(encoding="utf-8")
