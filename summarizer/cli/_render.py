"""Showing a SummaryResult: on a terminal, tables when it is wide and a short block per record when it is narrow;
Markdown for notes; JSON for machines (the HTML page is ``summarizer.review``)."""

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


#: Narrower than this, a terminal shows each record as a block (key fields on their own lines, the quote below)
#: instead of a table whose columns would wrap a word per line.
WIDE = 110


def render_blocks(result: SummaryResult, console: Console) -> None:
    """Each record as a short block: its id and category, one field per line, its first quote below."""
    console.print(Text(result.source.title or "Summary", style="bold"))
    console.print(Text(result.summary.summary))
    for category in CATEGORY.values():
        items = getattr(result.summary, category.name)
        if not items:
            continue
        console.print()
        console.print(Text(f"{category.title} ({len(items)})", style="bold underline"))
        for number, item in enumerate(items, start=1):
            block = _block()
            first = True
            for column in category.columns:
                value = getattr(item, column, None)
                if value is None and column not in category.keys:
                    continue
                line = Text(f"{column.replace('_', ' ')}: ", style="dim")
                line.append(value_text(value), style="default")
                block.add_row(f"{category.letter}{number}" if first else "", line)
                first = False
            block.add_row("", Text("“" + item.evidence[0] + "”", style="italic"))
            console.print()
            console.print(block)
    if result.rejected:
        console.print()
        console.print(Text(f"Rejected ({len(result.rejected)})", style="bold underline"))
        block = _block()
        for rej in result.rejected:
            label = next((value_text(v) for k, v in rej.item.items() if k != "evidence" and v), "")
            line = Text(rej.code or "rejected", style="bold")
            line.append(f" {rej.category}: {label}", style="default")
            block.add_row("", line)
            block.add_row("", Text(rej.reason, style="dim"))
        console.print(block)
    for warning in result.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))
    console.print()
    console.print(Text(_footer(result), style="dim"))


def _block() -> Table:
    """Two columns: a record's id, and its lines, which wrap under themselves."""
    block = Table.grid(padding=(0, 1))
    block.add_column(width=3, no_wrap=True)
    block.add_column(overflow="fold")
    return block


def render_table(result: SummaryResult, console: Console) -> None:
    """Tables on a wide terminal, blocks on a narrow one (``WIDE``)."""
    if console.width < WIDE:
        render_blocks(result, console)
        return
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
            label = next((value_text(v) for k, v in rej.item.items() if k != "evidence" and v), "")
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
