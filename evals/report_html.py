"""The self-contained HTML report: scores, then each article's text with evidence highlighted beside its gold
and predicted items (matched, missed, false positive). Inline CSS, no scripts, no external assets."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from summarizer.display import value_text as _value
from summarizer.grounding import locate
from summarizer.schemas import CATEGORY

from .gold import FIELDS, GoldItem
from .runfile import HEADLINE, EvalRun
from .terminal import TITLES, describe, pct

if TYPE_CHECKING:
    from .harness import ArticleRun  # the harness loads the model backends

LETTER = {c.name: c.letter for c in CATEGORY.values()}
#: Categories whose evidence is highlighted in the text (actor names would cover most of an article).
HIGHLIGHTED = HEADLINE


@dataclass
class Span:
    start: int
    end: int
    css: str
    label: str
    predicted: bool


@dataclass
class Row:
    status: str
    css: str
    gold: dict[str, Any] | None = None
    predicted: dict[str, Any] | None = None
    fields: dict[str, bool] = field(default_factory=dict)


def _gold_cell(category: str, item: GoldItem) -> dict[str, Any]:
    fields = []
    for name in FIELDS[category]:
        if name not in item.fields:
            continue
        alts = item.fields[name]
        if name == "participants":
            shown, others = "; ".join(_value(list(p)) for p in alts[0]), 0
        else:
            shown, others = _value(alts[0]), len(alts) - 1
        fields.append((name, shown, others))
    return {"id": f"g{LETTER[category]}{item.index + 1}", "fields": fields, "evidence": list(item.evidence),
            "optional": item.optional}  # fmt: skip


def _pred_cell(category: str, index: int, item: dict[str, Any]) -> dict[str, Any]:
    fields = [(name, _value(item.get(name)), 0) for name in FIELDS[category] if name in item]
    return {"id": f"{LETTER[category]}{index + 1}", "fields": fields, "evidence": list(item.get("evidence") or []),
            "optional": False}  # fmt: skip


def _rows(run: ArticleRun, category: str) -> list[Row]:
    score = run.score.categories[category]
    golds = run.gold.items[category]
    preds = [p.model_dump(mode="json") for p in getattr(run.result.summary, category)] if run.result else []
    rows = [
        Row(
            f"match {m.similarity:.2f}",
            "matched",
            _gold_cell(category, golds[m.gold]),
            _pred_cell(category, m.predicted, preds[m.predicted]),
            m.fields,
        )  # fmt: skip
        for m in score.matches
    ]
    rows += [Row("miss", "missed", _gold_cell(category, golds[i.index])) for i in score.missed]
    rows += [Row("optional, not found", "optional", _gold_cell(category, golds[i])) for i in score.optional_unmatched]
    rows += [
        Row(
            f"false + ({'—' if i.closest is None else f'{i.closest:.2f}'})",
            "fp",
            None,
            _pred_cell(category, i.index, preds[i.index]),
        )  # fmt: skip
        for i in score.false_positives
    ]
    return rows


def spans(run: ArticleRun) -> list[Span]:
    """Predicted evidence (offsets from the result's grounding) and gold evidence (located in the text)."""
    out: list[Span] = []
    for category in HIGHLIGHTED:
        score = run.score.categories[category]
        matched_pred = {m.predicted for m in score.matches}
        matched_gold = {m.gold for m in score.matches}
        if run.result is not None:
            for item in run.result.grounding.items:
                if item.category != category:
                    continue
                css = "pred-matched" if item.index in matched_pred else "pred-fp"
                for quote in item.quotes:
                    if quote.start is not None and quote.end is not None and quote.end > quote.start:
                        out.append(Span(quote.start, quote.end, css, f"{LETTER[category]}{item.index + 1}", True))
        for gold in run.gold.items[category]:
            css = "gold-matched" if gold.index in matched_gold else "gold-optional" if gold.optional else "gold-missed"
            for quote in gold.evidence:
                loc = locate(quote, run.text)
                if loc.start is not None and loc.end is not None and loc.end > loc.start:
                    out.append(Span(loc.start, loc.end, css, f"g{LETTER[category]}{gold.index + 1}", False))
    return out


def highlight(text: str, marks: list[Span]) -> Markup:
    """The text as HTML, each stretch wrapped in the classes of the spans covering it; item labels as
    superscripts where a predicted span starts."""
    cuts = sorted({0, len(text), *(s.start for s in marks), *(s.end for s in marks)})
    parts: list[str] = []
    for start, end in zip(cuts, cuts[1:], strict=False):
        covering = [s for s in marks if s.start <= start and end <= s.end]
        labels = [s.label for s in marks if s.start == start and s.predicted]
        if labels:
            parts.append(f'<sup class="tag">{escape(" ".join(dict.fromkeys(labels)))}</sup>')
        piece = str(escape(text[start:end]))
        if covering:
            css = sorted({s.css for s in covering})
            title = " ".join(dict.fromkeys(s.label for s in covering))
            piece = f'<span class="{" ".join(css)}" title="{escape(title)}">{piece}</span>'
        parts.append(piece)
    return Markup("".join(parts))


def _env() -> Environment:
    return Environment(autoescape=select_autoescape(default=True), undefined=StrictUndefined, trim_blocks=True,
                       lstrip_blocks=True)  # fmt: skip


def render_report(run: EvalRun, articles: list[ArticleRun]) -> str:
    template_source = resources.files("summarizer.evals").joinpath("report.html").read_text(encoding="utf-8")
    template = _env().from_string(template_source)
    sections = []
    for article in articles:
        categories = [
            {"name": TITLES[c], "letter": LETTER[c], "rows": _rows(article, c), "scores": article.score.categories[c]}
            for c in (*HEADLINE, *(c for c in FIELDS if c not in HEADLINE))
        ]
        sections.append({
            "run": article, "score": article.score, "html": highlight(article.text, spans(article)),
            "categories": categories, "rejected": article.result.rejected if article.result else [],
        })  # fmt: skip
    return template.render(
        run=run, sections=sections, describe=describe(run), pct=pct, titles=TITLES, headline=HEADLINE,
        headline_titles=", ".join(TITLES[c] for c in run.totals.headline_categories),
    )  # fmt: skip


def write_report(run: EvalRun, articles: list[ArticleRun], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(run, articles), encoding="utf-8")
    return path
