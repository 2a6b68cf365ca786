"""Showing a SummaryResult: a rich table on a terminal, Markdown for notes, JSON for machines."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..display import value_text
from ..schemas import CATEGORY, SummaryResult


def _footer(result: SummaryResult) -> str:
    u, g = result.usage, result.grounding.counts
    return (
        f"{result.provenance.backend}/{result.provenance.model} · prompt {result.provenance.prompt_version} · "
        f"{u.model_calls} calls, {u.retries} retries, {u.prompt_tokens} prompt + {u.completion_tokens} "
        f"completion tokens · {result.timings.total_ms / 1000:.1f} s · grounded {g.grounded_items}/{g.items} "
        f"items ({g.exact_quotes} exact, {g.fuzzy_quotes} fuzzy, {g.missing_quotes} missing quotes)"
    )


def render_table(result: SummaryResult, console: Console) -> None:
    parts: list[Any] = [Text(result.summary.summary)]
    for category in CATEGORY.values():
        items = getattr(result.summary, category.name)
        if not items:
            continue
        columns = category.columns
        table = Table(title=f"{category.title} ({len(items)})", title_justify="left", expand=True, show_lines=False)
        for column in columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        table.add_column("evidence", overflow="fold", style="dim")
        for item in items:
            row = [value_text(getattr(item, c, None)) for c in columns]
            table.add_row(*row, "“" + item.evidence[0] + "”")
        parts.append(table)
    if result.rejected:
        table = Table(title=f"Rejected ({len(result.rejected)})", title_justify="left", expand=True)
        table.add_column("category")
        table.add_column("item", overflow="fold")
        table.add_column("reason", overflow="fold")
        for rej in result.rejected:
            label = next((str(v) for k, v in rej.item.items() if k != "evidence" and v), "")
            table.add_row(rej.category, label, rej.reason)
        parts.append(table)
    for warning in result.warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    title = result.source.title or "Summary"
    console.print(Panel(Group(*parts), title=title, subtitle=_footer(result), subtitle_align="left"))


def render_markdown(result: SummaryResult) -> str:
    lines = [f"# {result.source.title or 'Summary'}", "", result.summary.summary, ""]
    for category in CATEGORY.values():
        items = getattr(result.summary, category.name)
        if not items:
            continue
        columns = category.columns
        lines += [
            f"## {category.title}",
            "",
            "| " + " | ".join(columns) + " | evidence |",
            "|" + "---|" * (len(columns) + 1),
        ]
        for item in items:
            cells = [value_text(getattr(item, c, None)).replace("|", "\\|") for c in columns]
            lines.append("| " + " | ".join(cells) + " | " + item.evidence[0].replace("|", "\\|") + " |")
        lines.append("")
    if result.rejected:
        lines += ["## Rejected", ""] + [f"- {r.category}: {r.reason}" for r in result.rejected] + [""]
    lines += [f"_{_footer(result)}_", ""]
    return "\n".join(lines)
