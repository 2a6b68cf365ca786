"""The eval run file: provenance and every score of one run, as JSON (read back by --compare and --baseline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.errors import InputError
from summarizer.schemas import CLAIMS

RUN_FORMAT = 1
#: Categories of the headline micro-F1 (actors are scored and reported, but not part of it).
HEADLINE: tuple[str, ...] = CLAIMS


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PRF(Model):
    tp: int = 0
    fp: int = 0
    fn: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = Field(None, description="2·TP / (2·TP + FP + FN); null when there is nothing to score.")

    @classmethod
    def of(cls, tp: int, fp: int, fn: int) -> PRF:
        return cls(
            tp=tp,
            fp=fp,
            fn=fn,
            precision=tp / (tp + fp) if tp + fp else None,
            recall=tp / (tp + fn) if tp + fn else None,
            f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else None,
        )

    def __add__(self, other: PRF) -> PRF:
        return PRF.of(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)


class Tally(Model):
    correct: int = 0
    total: int = 0

    @property
    def rate(self) -> float | None:
        return self.correct / self.total if self.total else None

    def __add__(self, other: Tally) -> Tally:
        return Tally(correct=self.correct + other.correct, total=self.total + other.total)


class MatchRecord(Model):
    gold: int = Field(description="Index of the gold item in its category.")
    predicted: int = Field(description="Index of the predicted item in the result's category list.")
    similarity: float
    optional: bool = False
    fields: dict[str, bool] = Field(default_factory=dict, description="Field -> correct, for fields the gold gives.")


class ItemRecord(Model):
    index: int
    item: dict[str, Any]
    evidence: list[str] = Field(default_factory=list)
    optional: bool = False
    closest: float | None = Field(None, description="Best similarity to any item on the other side.")


class CategoryScore(Model):
    category: str
    gold_required: int = 0
    gold_optional: int = 0
    predicted: int = 0
    scores: PRF = Field(default_factory=PRF)
    matches: list[MatchRecord] = Field(default_factory=list)
    missed: list[ItemRecord] = Field(default_factory=list)
    false_positives: list[ItemRecord] = Field(default_factory=list)
    optional_unmatched: list[int] = Field(default_factory=list)
    fields: dict[str, Tally] = Field(default_factory=dict)


class ArticleScore(Model):
    stem: str
    gold_file: str
    article_file: str
    published: str | None = None
    error: str | None = Field(None, description="Error code and message when the pipeline failed on this article.")
    schema_valid: bool = True
    categories: dict[str, CategoryScore] = Field(default_factory=dict)
    micro: PRF = Field(default_factory=PRF)
    items: int = Field(0, description="Predicted items before grounding (kept + rejected as ungrounded).")
    grounded_items: int = 0
    rejected: int = 0
    kept: dict[str, int] = Field(default_factory=dict, description="Records kept in the summary, per category.")
    rejected_by: dict[str, int] = Field(default_factory=dict, description="Rejected items per reason code.")
    latency_ms: float | None = None
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    result: dict[str, Any] | None = Field(None, description="The full SummaryResult.")


class Totals(Model):
    headline_categories: list[str] = Field(default_factory=lambda: list(HEADLINE))
    categories: dict[str, PRF] = Field(default_factory=dict)
    micro: PRF = Field(default_factory=PRF)
    fields: dict[str, dict[str, Tally]] = Field(default_factory=dict)
    field_accuracy: float | None = Field(None, description="Correct fields / compared fields, headline categories.")
    articles: int = 0
    schema_valid_rate: float | None = None
    grounding_rate: float | None = None
    kept: dict[str, int] = Field(default_factory=dict, description="Records kept, per headline category.")
    kept_per_article: float | None = Field(None, description="Mean headline records kept per article.")
    rejected_by: dict[str, int] = Field(default_factory=dict, description="Rejected items per reason code.")
    mean_latency_ms: float | None = None
    mean_prompt_tokens: float | None = None
    mean_completion_tokens: float | None = None


class RunProvenance(Model):
    summarizer_version: str
    git_commit: str | None = None
    backend: str
    model: str
    prompt_version: str
    schema_version: str
    date: str = Field(description="When the run finished, ISO 8601 UTC.")
    mode: str = Field("live", description="live (model called) or replay (recorded answers).")
    recorded_from: dict[str, Any] | None = Field(None, description="Backend and model of the recorded answers.")
    gold_dir: str
    threshold: float
    timing_source: str = Field("measured", description="measured, or recorded (replay reports the model run).")


class EvalRun(Model):
    format: int = RUN_FORMAT
    provenance: RunProvenance
    totals: Totals
    articles: list[ArticleScore] = Field(default_factory=list)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)

    def headline(self) -> EvalRun:
        """The run without per-article detail (what a committed baseline keeps)."""
        return self.model_copy(update={"articles": []})


def load_run(path: Path) -> EvalRun:
    try:
        return EvalRun.model_validate_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"run file unreadable: {path}: {exc}", code="not_found") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        raise InputError(f"{path} is not an eval run file: {where}: {err['msg']}", code="bad_run_file") from exc
