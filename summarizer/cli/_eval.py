"""`summarizer eval`: score the pipeline against gold answers, compare runs, gate on a baseline."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..config import Settings
from ..errors import BackendError, ErrorCode, InputError
from ..evals.compare import check_baseline, print_comparison
from ..evals.gold import dataset_dir, default_gold_dir
from ..evals.report_html import write_report
from ..evals.runfile import ArticleScore, load_run
from ..evals.scoring import DEFAULT_THRESHOLD
from ..evals.terminal import print_run
from ._errors import EXIT_BACKEND, err_console, exit_on_error
from ._options import with_settings

EXIT_REGRESSION = 1


def _progress(number: int, total: int, stem: str, score: ArticleScore | None) -> None:
    if score is None:
        err_console.print(f"[{number}/{total}] {stem} …", highlight=False)
        return
    f1 = "—" if score.micro.f1 is None else f"{score.micro.f1 * 100:.1f}%"
    took = "" if score.latency_ms is None else f" · {score.latency_ms / 1000:.1f} s"
    failed = f" · [red]{score.error}[/]" if score.error else ""
    err_console.print(f"[{number}/{total}] {stem} done · micro-F1 {f1}{took}{failed}", highlight=False)


def _default_out() -> Path:
    return Path("eval-runs") / dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


@with_settings
def eval_command(
    dataset: Annotated[
        str | None,
        typer.Option(help="A named dataset: seeds (the default), news/dev (decide on it) or news/test (report on it)."),
    ] = None,
    gold: Annotated[
        Path | None, typer.Option(help="Directory of gold YAML files. Default: ./evals/gold, else the packaged seeds.")
    ] = None,
    articles: Annotated[
        Path | None,
        typer.Option(help="Where article texts are found by name when a gold file's path does not resolve."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Directory for run.json and report.html. Default: eval-runs/<UTC time>.")
    ] = None,
    threshold: Annotated[
        float, typer.Option(help="Similarity a pair needs to count as a match (0-1).")
    ] = DEFAULT_THRESHOLD,
    record: Annotated[
        Path | None, typer.Option(help="Also save every model answer, one JSON file per article, in this directory.")
    ] = None,
    replay: Annotated[
        Path | None, typer.Option(help="Answer with answers recorded by --record instead of calling a model.")
    ] = None,
    compare: Annotated[
        tuple[Path, Path] | None,
        typer.Option(help="Show two run files side by side with deltas (B − A), then exit.", metavar="RUN_A RUN_B"),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="A run file; exit 1 when micro-F1 drops more than --max-drop below it.")
    ] = None,
    max_drop: Annotated[float, typer.Option(help="Allowed micro-F1 drop below --baseline (0.05 = 5 points).")] = 0.05,
    save_baseline: Annotated[
        Path | None, typer.Option(help="Also write this run's scores (without per-article detail) as a baseline file.")
    ] = None,
    details: Annotated[bool, typer.Option(help="List every miss and false positive in the terminal.")] = True,
    *,
    settings: Settings,
) -> None:
    """Score the summarizer against hand-labelled gold answers (SPEC §3)."""
    # Piped output (CI logs, files) gets room for the tables instead of rich's 80-column default.
    console = Console() if sys.stdout.isatty() or "COLUMNS" in os.environ else Console(width=160)
    with exit_on_error():
        if compare is not None:
            run_a, run_b = load_run(compare[0]), load_run(compare[1])
            print_comparison(run_a, run_b, console, str(compare[0]), str(compare[1]))
            return
        if record is not None and replay is not None:
            raise InputError("--record and --replay cannot be used together", code=ErrorCode.BAD_OPTION)
        if not 0.0 < threshold <= 1.0:
            raise InputError(f"--threshold must be in (0, 1], got {threshold}", code=ErrorCode.BAD_OPTION)
        if dataset is not None and gold is not None:
            raise InputError("--dataset and --gold cannot be used together", code=ErrorCode.BAD_OPTION)
        reference = load_run(baseline) if baseline is not None else None
        from ..evals.harness import EvalOptions, run_eval  # loads the backends: only when a run is made

        options = EvalOptions(
            gold_dir=gold or (dataset_dir(dataset) if dataset is not None else default_gold_dir()),
            articles_dir=articles,
            threshold=threshold,
            record_dir=record,
            replay_dir=replay,
        )
        run, runs = asyncio.run(run_eval(settings, options, _progress))
        if run.articles and all(a.error and a.schema_valid for a in run.articles):
            raise BackendError(f"every article failed; first error: {run.articles[0].error}")
    directory = out or _default_out()
    run.save(directory / "run.json")
    write_report(run, runs, directory / "report.html")
    if save_baseline is not None:
        run.headline().save(save_baseline)
    print_run(run, console, details=details)
    err_console.print(f"run: {directory / 'run.json'} · report: {directory / 'report.html'}", highlight=False)
    if record is not None:
        err_console.print(f"recorded answers: {record}", highlight=False)
    if reference is not None:
        ok, verdict = check_baseline(run, reference, max_drop)
        if not ok:
            err_console.print(f"[bold red]regression[/]: {verdict}")
            raise typer.Exit(EXIT_REGRESSION)
        err_console.print(f"[green]baseline ok[/]: {verdict}")


__all__ = ["EXIT_BACKEND", "EXIT_REGRESSION", "eval_command"]
