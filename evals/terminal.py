"""The eval run as rich tables on a terminal: scores per category, per article, then misses and false positives."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from summarizer.schemas import CATEGORY

from .runfile import HEADLINE, PRF, ArticleScore, EvalRun, Tally

TITLES = {c.name: c.title.lower() for c in CATEGORY.values()}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}"


def describe(run: EvalRun) -> str:
    p = run.provenance
    source = f"replay of {p.backend}/{p.model}" if p.mode == "replay" else f"{p.backend}/{p.model}"
    commit = f" · git {p.git_commit[:10]}" if p.git_commit else ""
    return (
        f"{source} · prompt {p.prompt_version} · schema {p.schema_version} · summarizer {p.summarizer_version}"
        f"{commit} · {p.date} · threshold {p.threshold}"
    )


def _category_row(
    name: str, prf: PRF, articles: list[ArticleScore], category: str, fields: dict[str, Tally]
) -> list[str]:
    required = sum(a.categories[category].gold_required for a in articles)
    optional = sum(a.categories[category].gold_optional for a in articles)
    predicted = sum(a.categories[category].predicted for a in articles)
    accuracy = sum(fields.values(), Tally()).rate
    return [name, f"{required}+{optional}", str(predicted), str(prf.tp), str(prf.fp), str(prf.fn),
            pct(prf.precision), pct(prf.recall), pct(prf.f1), pct(accuracy)]  # fmt: skip


def scores_table(run: EvalRun) -> Table:
    t = run.totals
    table = Table(title=f"Eval over {t.articles} article(s): {describe(run)}", title_justify="left")
    for column in ("category", "gold req+opt", "pred", "TP", "FP", "FN", "P %", "R %", "F1 %", "field acc %"):
        table.add_column(column, justify="left" if column == "category" else "right")
    for c in HEADLINE:
        if c in t.categories:
            table.add_row(*_category_row(TITLES[c], t.categories[c], run.articles, c, t.fields.get(c, {})))
    micro = t.micro
    table.add_row(
        Text("micro (headline)", style="bold"), "", "", str(micro.tp), str(micro.fp), str(micro.fn),
        pct(micro.precision), pct(micro.recall), Text(pct(micro.f1), style="bold"), pct(t.field_accuracy),
        end_section=True,
    )  # fmt: skip
    for c in t.categories:
        if c not in HEADLINE:
            table.add_row(*_category_row(f"{TITLES[c]} (not in headline)", t.categories[c], run.articles, c,
                                         t.fields.get(c, {})), style="dim")  # fmt: skip
    table.caption = (
        f"headline micro-F1 over {', '.join(TITLES[c] for c in t.headline_categories)} · "
        f"schema-valid {pct(t.schema_valid_rate)}% · grounded {pct(t.grounding_rate)}% of predicted items · "
        f"mean latency {_seconds(t.mean_latency_ms)} ({run.provenance.timing_source}) · mean tokens "
        f"{_num(t.mean_prompt_tokens)} prompt + {_num(t.mean_completion_tokens)} completion per article\n"
        f"kept {sum(t.kept.values())} records ({'—' if t.kept_per_article is None else t.kept_per_article} per "
        f"article; {', '.join(f'{TITLES[c]} {n}' for c, n in t.kept.items()) or 'none'}) · rejected "
        f"{sum(t.rejected_by.values())} ({rejections(t.rejected_by)})"
    )
    table.caption_justify = "left"
    return table


def rejections(by_code: dict[str, int]) -> str:
    """Rejected items by reason code, most frequent first: "ungrounded 3, not_upcoming 1"."""
    ordered = sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))
    return ", ".join(f"{code} {n}" for code, n in ordered) or "none"


def _seconds(ms: float | None) -> str:
    return "—" if ms is None else f"{ms / 1000:.1f} s"


def _num(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f}"


def articles_table(run: EvalRun) -> Table:
    table = Table(title="Per article", title_justify="left")
    for column in ("article", "P %", "R %", "F1 %", "kept", "rejected", "latency", "tokens in+out", "error"):
        table.add_column(column, justify="left" if column in ("article", "error") else "right", overflow="fold")
    for a in run.articles:
        table.add_row(
            a.stem, pct(a.micro.precision), pct(a.micro.recall), pct(a.micro.f1),
            str(sum(n for c, n in a.kept.items() if c in HEADLINE)),
            f"{a.rejected}" + (f" ({rejections(a.rejected_by)})" if a.rejected else ""), _seconds(a.latency_ms),
            f"{a.prompt_tokens:,}+{a.completion_tokens:,}", a.error or "",
        )  # fmt: skip
    return table


def _label(item: dict[str, Any]) -> str:
    parts = []
    for key, value in item.items():
        if value in (None, [], "") or key in ("approximate", "date_from", "date_to", "value_km2"):
            continue
        shown = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
        parts.append(shown)
    return " · ".join(parts)


def errors_table(run: EvalRun) -> Table | None:
    table = Table(title="Misses and false positives", title_justify="left", show_lines=False)
    for column in ("article", "category", "kind", "item", "evidence", "closest"):
        table.add_column(column, overflow="fold", justify="right" if column == "closest" else "left")
    rows = 0
    for a in run.articles:
        for c, score in a.categories.items():
            for kind, items, style in (("miss", score.missed, "red"), ("false +", score.false_positives, "yellow")):
                for item in items:
                    evidence = "“" + item.evidence[0] + "”" if item.evidence else ""
                    closest = "—" if item.closest is None else f"{item.closest:.2f}"
                    table.add_row(a.stem[:12], TITLES[c], Text(kind, style=style), _label(item.item), evidence, closest)
                    rows += 1
    return table if rows else None


def print_run(run: EvalRun, console: Console, *, details: bool = True) -> None:
    console.print(scores_table(run))
    if run.articles:
        console.print(articles_table(run))
    if details and (errors := errors_table(run)) is not None:
        console.print(errors)
