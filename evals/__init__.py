"""The eval harness (SPEC §3): gold answers, scoring, run files, reports, comparison and baselines.

Installed as ``summarizer.evals``; the command line is ``summarizer eval``.
"""

from typing import TYPE_CHECKING, Any

from .compare import check_baseline
from .gold import GoldArticle, GoldItem, default_gold_dir, load_gold_dir, load_gold_file
from .runfile import EvalRun, load_run
from .scoring import DEFAULT_THRESHOLD, score_article, score_category

if TYPE_CHECKING:
    from .harness import ArticleRun, EvalOptions, run_eval


def __getattr__(name: str) -> Any:
    """The harness loads the model backends: imported when one of its names is first used."""
    if name in ("ArticleRun", "EvalOptions", "run_eval"):
        from . import harness

        return getattr(harness, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_THRESHOLD",
    "ArticleRun",
    "EvalOptions",
    "EvalRun",
    "GoldArticle",
    "GoldItem",
    "check_baseline",
    "default_gold_dir",
    "load_gold_dir",
    "load_gold_file",
    "load_run",
    "run_eval",
    "score_article",
    "score_category",
]
