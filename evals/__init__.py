"""The eval harness (SPEC §3): gold answers, scoring, run files, reports, comparison and baselines.

Installed as ``summarizer.evals``; the command line is ``summarizer eval``.
"""

from .compare import check_baseline
from .gold import GoldArticle, GoldItem, default_gold_dir, load_gold_dir, load_gold_file
from .harness import ArticleRun, EvalOptions, run_eval
from .runfile import EvalRun, load_run
from .scoring import DEFAULT_THRESHOLD, score_article, score_category

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
