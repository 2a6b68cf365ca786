"""Running the pipeline over a directory of gold-labelled articles and scoring every result.

Three modes: live (the configured backend answers), live with recording (every answer is also written to a
directory), and replay (a fake backend answers with recorded answers, so grounding, dedupe, date resolution
and scoring all run for real without a model).
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from summarizer import ArticleInput, Settings, Summarizer, __version__
from summarizer._prompts import load_prompts
from summarizer.backends import Backend, create_backend
from summarizer.backends.fake import FakeBackend
from summarizer.errors import OutputValidationError, SummarizerError
from summarizer.schemas import SCHEMA_VERSION, SummaryResult, Usage

from .gold import GoldArticle, load_gold_dir, resolve_article
from .recording import META, RecordingBackend, load_recording, write_recording
from .runfile import HEADLINE, PRF, ArticleScore, EvalRun, RunProvenance, Tally, Totals
from .scoring import DEFAULT_THRESHOLD, micro, score_article


@dataclass
class EvalOptions:
    gold_dir: Path
    articles_dir: Path | None = None
    threshold: float = DEFAULT_THRESHOLD
    record_dir: Path | None = None
    replay_dir: Path | None = None


@dataclass
class ArticleRun:
    """One article's text, result and scores (what the HTML report shows)."""

    gold: GoldArticle
    path: Path
    text: str
    result: SummaryResult | None
    score: ArticleScore


#: Called with (number, total, gold stem, None) when an article starts and with its score when it is done.
Progress = Callable[[int, int, str, ArticleScore | None], None]


def git_commit() -> str | None:
    """The commit of the source tree summarizer runs from, when it is a git checkout."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _read_article(engine: Summarizer, gold: GoldArticle, path: Path) -> tuple[Any, str]:
    raw = path.read_bytes().decode("utf-8-sig")
    if path.suffix.lower() in (".html", ".htm"):
        article = engine.prepare(ArticleInput(html=raw, published=gold.published))
    else:
        article = engine.prepare(ArticleInput(raw, published=gold.published))
    return article, article.text


def _score(gold: GoldArticle, path: Path, result: SummaryResult | None, threshold: float) -> ArticleScore:
    predicted = {} if result is None else {c: getattr(result.summary, c) for c in gold.items}
    categories = score_article(gold, predicted, threshold)
    score = ArticleScore(
        stem=gold.stem,
        gold_file=str(gold.path),
        article_file=str(path),
        published=gold.published.isoformat() if gold.published else None,
        categories=categories,
        micro=micro(categories),
    )
    if result is not None:
        counts = result.grounding.counts
        score.items, score.grounded_items, score.rejected = counts.items, counts.grounded_items, len(result.rejected)
        score.kept = {c: len(getattr(result.summary, c)) for c in gold.items}
        for rejected in result.rejected:
            score.rejected_by[rejected.code] = score.rejected_by.get(rejected.code, 0) + 1
        score.latency_ms = round(result.timings.total_ms, 1)
        score.model_calls = result.usage.model_calls
        score.prompt_tokens, score.completion_tokens = result.usage.prompt_tokens, result.usage.completion_tokens
        score.result = result.model_dump(mode="json")
    return score


async def _summarize(engine: Summarizer, article: Any) -> tuple[SummaryResult | None, str | None, bool]:
    """The result, or the error text and whether the failure was a schema failure."""
    try:
        return await engine.summarize_article(article), None, True
    except OutputValidationError as exc:
        return None, f"{exc.code}: {exc.message}", False
    except SummarizerError as exc:
        return None, f"{exc.code}: {exc.message}", True


async def run_eval(
    settings: Settings, options: EvalOptions, progress: Progress | None = None, *, backend: Backend | None = None
) -> tuple[EvalRun, list[ArticleRun]]:
    """Summarize and score every gold article. ``backend`` overrides the one the settings name (live mode)."""
    # An eval measures the model: never answer from (or write to) the result cache.
    settings = settings.model_copy(update={"no_cache": True})
    golds = load_gold_dir(options.gold_dir)
    paths = [resolve_article(g, options.articles_dir) for g in golds]
    recorder: RecordingBackend | None = None
    live: Summarizer | None = None
    if options.replay_dir is None:
        backend = backend or create_backend(settings)
        if options.record_dir is not None:
            backend = recorder = RecordingBackend(backend)
        live = Summarizer(settings, backend)
    runs: list[ArticleRun] = []
    recorded_meta: dict[str, Any] | None = None
    try:
        for number, (gold, path) in enumerate(zip(golds, paths, strict=True), start=1):
            if progress is not None:
                progress(number, len(golds), gold.stem, None)
            recording = None
            if options.replay_dir is not None:
                recording = load_recording(options.replay_dir, gold.stem)
                recorded_meta = recording[META]
                engine = Summarizer(settings, FakeBackend(settings, script=recording))
            else:
                assert live is not None
                engine = live
            article, text = _read_article(engine, gold, path)
            result, error, schema_valid = await _summarize(engine, article)
            if recorder is not None:
                answers = recorder.take()
                if result is not None and options.record_dir is not None:
                    write_recording(options.record_dir, gold.stem, answers, result, path.name)
            if recording is not None and result is not None:
                meta = recording[META]
                result.timings.total_ms = float(meta.get("total_ms") or 0.0)
                result.usage = Usage.model_validate(meta.get("usage") or {})
            score = _score(gold, path, result, options.threshold)
            score.error, score.schema_valid = error, schema_valid
            runs.append(ArticleRun(gold, path, text, result, score))
            if progress is not None:
                progress(number, len(golds), gold.stem, score)
    finally:
        if live is not None:
            await live.aclose()
    provenance = _provenance(settings, options, runs, recorded_meta)
    return EvalRun(
        provenance=provenance, totals=aggregate([r.score for r in runs]), articles=[r.score for r in runs]
    ), runs


def _provenance(
    settings: Settings, options: EvalOptions, runs: list[ArticleRun], recorded: dict[str, Any] | None
) -> RunProvenance:
    results = [r.result for r in runs if r.result is not None]
    first = results[0].provenance if results else None
    prompt_version = first.prompt_version if first else load_prompts(settings.prompt_file).version
    backend = first.backend if first else settings.backend_name
    model = first.model if first else (settings.model or "")
    mode = "live"
    if recorded is not None:
        mode, backend, model = "replay", str(recorded.get("backend")), str(recorded.get("model"))
        prompt_version = str(recorded.get("prompt_version"))  # the prompt the answers were given to
    return RunProvenance(
        summarizer_version=__version__,
        git_commit=git_commit(),
        backend=backend,
        model=model,
        prompt_version=prompt_version,
        schema_version=SCHEMA_VERSION,
        date=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        mode=mode,
        recorded_from=None
        if recorded is None
        else {k: recorded.get(k) for k in ("backend", "model", "prompt_version")},
        gold_dir=str(options.gold_dir),
        threshold=options.threshold,
        timing_source="recorded" if recorded is not None else "measured",
    )


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 1) if values else None


def aggregate(articles: list[ArticleScore]) -> Totals:
    totals = Totals(articles=len(articles))
    categories = list(articles[0].categories) if articles else list(HEADLINE)
    for c in categories:
        totals.categories[c] = sum((a.categories[c].scores for a in articles), PRF())
        fields: dict[str, Tally] = {}
        for a in articles:
            for f, t in a.categories[c].fields.items():
                fields[f] = fields.get(f, Tally()) + t
        totals.fields[c] = fields
    totals.micro = sum((totals.categories[c] for c in HEADLINE if c in totals.categories), PRF())
    headline_fields = sum((t for c in HEADLINE for t in totals.fields.get(c, {}).values()), Tally())
    totals.field_accuracy = headline_fields.rate
    if articles:
        totals.schema_valid_rate = sum(a.schema_valid for a in articles) / len(articles)
    items = sum(a.items for a in articles)
    totals.grounding_rate = sum(a.grounded_items for a in articles) / items if items else None
    done = [a for a in articles if a.result is not None]
    for a in done:
        for c in HEADLINE:
            totals.kept[c] = totals.kept.get(c, 0) + a.kept.get(c, 0)
        for code, n in a.rejected_by.items():
            totals.rejected_by[code] = totals.rejected_by.get(code, 0) + n
    if done:
        totals.kept_per_article = round(sum(totals.kept.values()) / len(done), 2)
    totals.mean_latency_ms = _mean([a.latency_ms for a in done if a.latency_ms is not None])
    totals.mean_prompt_tokens = _mean([float(a.prompt_tokens) for a in done])
    totals.mean_completion_tokens = _mean([float(a.completion_tokens) for a in done])
    return totals
