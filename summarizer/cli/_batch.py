"""`summarizer batch`: a directory or JSON Lines file in, one JSON line per record out, resumable."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..batch import BatchReport, JsonlStore, count_records, read_records, run_batch
from ..cache import result_cache
from ..config import Settings
from ..errors import BackendUnavailableError, ConfigError, ErrorCode, InputError
from ..pipeline import Summarizer
from ._errors import err_console, exit_on_error
from ._options import with_settings
from ._progress import ModelBar

if TYPE_CHECKING:
    from ..batch._provider import ProviderReport

EXIT_SOME_FAILED = 1
EXIT_INTERRUPTED = 130


class Runner(StrEnum):
    local = "local"
    ray = "ray"
    provider_batch = "provider-batch"


@dataclass
class RunnerOptions:
    runner: Runner = Runner.local
    ray_address: str | None = None
    actors: int | None = None
    actor_concurrency: int | None = None


def _progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(
            "[green]{task.fields[done]} done[/] [red]{task.fields[failed]} failed[/] "
            "[dim]{task.fields[skipped]} skipped[/]"
        ),
        TextColumn("{task.fields[rate]:.3g} art/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[tokens]:,} tokens"),
        console=err_console,
    )


def _ray_runner(settings: Settings, options: RunnerOptions) -> Any:
    try:
        from ..batch._ray import RayOptions, RayRunner
    except ImportError as exc:
        raise ConfigError(
            f"--runner ray needs Ray, which is not installed ({exc.name}): pip install 'summarizer[ray]'"
        ) from exc
    opts = RayOptions(address=options.ray_address, actors=options.actors, per_actor=options.actor_concurrency)
    return RayRunner(settings, opts)


async def _run(
    source: Path, store: JsonlStore, settings: Settings, total: int, options: RunnerOptions
) -> tuple[BatchReport, ProviderReport | None]:
    """The run's report, and what the provider's batch API was asked when that was the runner."""
    summarizer = Summarizer(settings, progress=ModelBar())
    ray_runner = _ray_runner(settings, options) if options.runner is Runner.ray else None
    try:
        # an OpenAI-compatible endpoint is checked up front: a batch against a dead endpoint would only
        # fill the output with failures (the local backend starts on first use, so it is not woken here)
        if summarizer.identity[0] == "openai" and not await summarizer.backend.ready():
            raise BackendUnavailableError(
                f"the {summarizer.backend.name} backend is not reachable; nothing was run "
                "(check --base-url / SUMMARIZER_BASE_URL, or start the server)",
                backend=summarizer.backend.name,
            )
        with _progress_bar() as bar:
            task = bar.add_task("batch", total=total, done=0, failed=0, skipped=0, rate=0.0, tokens=0)

            def on_progress(report: BatchReport) -> None:
                elapsed = report.elapsed()
                bar.update(
                    task,
                    completed=report.finished + report.skipped,
                    done=report.done,
                    failed=report.failed,
                    skipped=report.skipped,
                    rate=report.finished / elapsed if elapsed > 0 else 0.0,
                    tokens=report.tokens,
                )

            records = read_records(source, max_chars=settings.max_input_chars)
            if options.runner is Runner.provider_batch:
                from ..batch._provider import ProviderBatchRunner  # the OpenAI SDK: loaded only for this runner

                provider = ProviderBatchRunner(settings, store.out, on_status=lambda m: bar.console.print(m))
                try:
                    report = await provider.run(records, summarizer, store, on_progress=on_progress)
                finally:
                    await provider.aclose()
                return report, provider.provider
            if ray_runner is not None:
                err_console.print("starting Ray actors …")
                async with ray_runner:
                    err_console.print(f"Ray: {len(ray_runner.actors)} actors × {ray_runner.per_actor} articles at once")
                    report = await run_batch(
                        records,
                        summarizer,
                        store,
                        concurrency=ray_runner.concurrency,
                        on_progress=on_progress,
                        compute=ray_runner.compute,
                    )
                    return report, None
            report = await run_batch(
                records, summarizer, store, concurrency=settings.concurrency, on_progress=on_progress
            )
            return report, None
    finally:
        await summarizer.aclose()


def closing_report(
    report: BatchReport, settings: Settings, out: Path, in_file: dict[str, int], provider: ProviderReport | None = None
) -> dict[str, Any]:
    """The closing report as JSON (also what ``--report-json`` writes). Through a provider's batch API the cost is
    estimated at its batch price (``batch_price_share`` of the prices given)."""
    share = settings.batch_price_share if provider is not None else 1.0
    prompt, completion = settings.price_per_1k_prompt_tokens, settings.price_per_1k_completion_tokens
    cost = report.cost(None if prompt is None else prompt * share, None if completion is None else completion * share)
    extra = {}
    if provider is not None:
        extra["provider_batch"] = {
            "batches": provider.batches,
            "requests": provider.requests,
            "answered": provider.answered,
            "sent_again": provider.sent_again,
            "price_share": share,
        }
    return {
        **report.to_json(),
        **extra,
        "tokens": report.tokens,
        "cost_estimate": None if cost is None else round(cost, 6),
        "output": str(out),
        "output_done": in_file["done"],
        "output_failed": in_file["failed"],
    }


def _print_report(data: dict[str, Any]) -> None:
    rate = data["grounding_rate"]
    lines = [
        f"[bold]batch finished[/] in {data['wall_s']:.1f} s: [green]{data['done']} done[/], "
        f"[red]{data['failed']} failed[/], {data['skipped']} skipped (already in the output) "
        f"of {data['seen']} records; {data['cache_hits']} served from the cache",
        f"tokens: {data['prompt_tokens']:,} prompt + {data['completion_tokens']:,} completion = {data['tokens']:,} "
        f"in {data['model_calls']:,} model calls ({data['retries']:,} retries)"
        + ("" if data["cost_estimate"] is None else f"; estimated cost {data['cost_estimate']:.4f}"),
        "grounding rate: " + ("—" if rate is None else f"{rate:.1%} of items grounded in their article"),
    ]
    if (provider := data.get("provider_batch")) is not None:
        lines.append(
            f"batch API: {provider['batches']} batches, {provider['requests']:,} requests sent, "
            f"{provider['answered']:,} answered, {provider['sent_again']:,} sent again; cost estimated at "
            f"{provider['price_share']:.0%} of the prices given"
        )
    if data["errors"]:
        lines.append("failures: " + ", ".join(f"{code} {n}" for code, n in sorted(data["errors"].items())))
    lines.append(
        f"output: {data['output']} holds {data['output_done']} done and {data['output_failed']} failed records"
        + ("; re-run with --retry-failed to retry the failures" if data["output_failed"] else "")
    )
    for line in lines:
        err_console.print(line)


@with_settings
def batch_command(
    source: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT", help="A directory of .txt/.md/.html articles, or a JSON Lines file of records."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines output; re-running resumes it.")],
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Run again the records that failed in earlier runs.")
    ] = False,
    report_json: Annotated[
        Path | None, typer.Option("--report-json", help="Also write the closing report to this JSON file.")
    ] = None,
    runner: Annotated[
        Runner,
        typer.Option(
            help="local: this process; ray: Ray actors on this machine or a cluster; provider-batch: the "
            "endpoint's batch API (/v1/files, /v1/batches)."
        ),
    ] = Runner.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --runner ray: none starts Ray on this machine; 'auto' joins the one `ray start` runs "
            "here; ray://host:10001 a remote cluster."
        ),
    ] = None,
    actors: Annotated[
        int | None,
        typer.Option(min=1, help="With --runner ray: actors (default: one per CPU; one per node for the local model)."),
    ] = None,
    actor_concurrency: Annotated[
        int | None, typer.Option(min=1, help="With --runner ray: articles per actor at once (default: --concurrency).")
    ] = None,
    *,
    settings: Settings,
) -> None:
    """Summarize many articles into one JSON line each; resumable, one line per record.

    JSON Lines input: one object per line, {"id", "text" or "html", "title", "url", "published"}; id
    defaults to a hash of the content. Directory input: the id is the file's path without its suffix.
    Exit status: 0 when every record is done, 1 when some failed, 2 bad input or settings, 3 backend
    unreachable, 130 interrupted (re-run the same command to resume).
    """
    with exit_on_error():
        if not source.exists():
            raise InputError(f"no such file or directory: {source}", code=ErrorCode.FILE_NOT_FOUND)
        total = count_records(source)
        result_cache(settings)  # an unusable cache is a settings error now, not a failure on every record
        with JsonlStore(out, retry_failed=retry_failed) as store:
            try:
                options = RunnerOptions(runner, ray_address, actors, actor_concurrency)
                report, provider = asyncio.run(_run(source, store, settings, total, options))
            except KeyboardInterrupt:
                err_console.print(f"interrupted: finished records are in {out}; re-run the same command to resume")
                raise typer.Exit(EXIT_INTERRUPTED) from None
            in_file = store.counts()
        data = closing_report(report, settings, out, in_file, provider)
    _print_report(data)
    if report_json is not None:
        report_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if data["output_failed"]:
        raise typer.Exit(EXIT_SOME_FAILED)
