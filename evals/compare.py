"""Two eval runs side by side with deltas, and the regression check against a stored baseline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .runfile import HEADLINE, EvalRun, Totals
from .terminal import TITLES, describe


@dataclass(frozen=True)
class Metric:
    label: str
    get: Callable[[Totals], float | None]
    percent: bool = True
    higher_is_better: bool = True


def _category_f1(category: str) -> Callable[[Totals], float | None]:
    def get(t: Totals) -> float | None:
        return t.categories[category].f1 if category in t.categories else None

    return get


def _metrics(a: Totals, b: Totals) -> list[Metric]:
    metrics = [
        Metric("micro F1 (headline)", lambda t: t.micro.f1),
        Metric("micro precision", lambda t: t.micro.precision),
        Metric("micro recall", lambda t: t.micro.recall),
    ]
    categories = [c for c in (*HEADLINE, *a.categories, *b.categories) if c in a.categories or c in b.categories]
    for c in dict.fromkeys(categories):
        metrics.append(Metric(f"{TITLES.get(c, c)} F1", _category_f1(c)))
    metrics += [
        Metric("field accuracy", lambda t: t.field_accuracy),
        Metric("schema-valid rate", lambda t: t.schema_valid_rate),
        Metric("grounding rate", lambda t: t.grounding_rate),
        Metric("records kept per article", lambda t: t.kept_per_article, False),
        Metric("items rejected", lambda t: float(sum(t.rejected_by.values())) if t.rejected_by else None, False, False),
        Metric(
            "mean latency (s)", lambda t: None if t.mean_latency_ms is None else t.mean_latency_ms / 1000, False, False
        ),
        Metric("mean prompt tokens", lambda t: t.mean_prompt_tokens, False, False),
        Metric("mean completion tokens", lambda t: t.mean_completion_tokens, False, False),
    ]
    return metrics


def _fmt(value: float | None, percent: bool) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}" if percent else f"{value:,.1f}"


def delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def compare_table(a: EvalRun, b: EvalRun, source_a: str = "", source_b: str = "") -> Table:
    """Columns A and B; the caption says which file and run each is."""
    table = Table(title="Eval runs compared (percentages for rates; Δ = B − A)", title_justify="left")
    table.add_column("metric")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_column("Δ", justify="right")
    for m in _metrics(a.totals, b.totals):
        va, vb = m.get(a.totals), m.get(b.totals)
        d = delta(va, vb)
        if d is None:
            shown = Text("—")
        else:
            scaled = d * 100 if m.percent else d
            style = "dim" if abs(scaled) < 0.05 else ("green" if (d > 0) == m.higher_is_better else "red")
            shown = Text(f"{scaled:+.1f}", style=style)
        table.add_row(m.label, _fmt(va, m.percent), _fmt(vb, m.percent), shown)
    table.caption = "\n".join(
        f"{label}: {source + ' · ' if source else ''}{describe(run)}"
        for label, source, run in (("A", source_a, a), ("B", source_b, b))
    )
    table.caption_justify = "left"
    return table


def print_comparison(a: EvalRun, b: EvalRun, console: Console, source_a: str = "", source_b: str = "") -> None:
    console.print(compare_table(a, b, source_a, source_b))


def check_baseline(run: EvalRun, baseline: EvalRun, max_drop: float) -> tuple[bool, str]:
    """Passes unless micro-F1 fell more than ``max_drop`` (absolute, 0.05 = 5 points) below the baseline's."""
    now, then = run.totals.micro.f1, baseline.totals.micro.f1
    if then is None:
        return True, "baseline has no micro-F1; nothing to check"
    if now is None:
        return False, f"this run has no micro-F1; baseline {then:.4f}"
    drop = then - now
    verdict = f"micro-F1 {now:.4f} vs baseline {then:.4f} (change {now - then:+.4f}, allowed drop {max_drop:.4f})"
    return drop <= max_drop + 1e-9, verdict
