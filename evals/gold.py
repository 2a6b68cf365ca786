"""Gold answers (SPEC §3): loading and checking `evals/gold/<article-stem>.yaml` files.

Every field of a gold item is held as a tuple of acceptable alternatives, so scoring never needs to know
whether the labeller wrote one value or a list: `holder: Putin` becomes `("Putin",)`, `addressee: [null, Kyiv]`
becomes `(None, "Kyiv")`. A meeting's `participants` is a tuple with one entry per participant, each entry a
tuple of alternatives for that participant.

A malformed gold file is an error naming the file and the item, never silently skipped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from summarizer.errors import InputError
from summarizer.schemas import CATEGORY


class Kind(Enum):
    TEXT = "text"
    ENUM = "enum"
    NUMBER = "number"
    BOOL = "bool"
    DATE = "date"
    PARTICIPANTS = "participants"


#: The values each enum field allows (read from the records' Literal types).
_ENUMS: dict[str, tuple[str, ...]] = {f: v for c in CATEGORY.values() for f, v in c.choices.items()}

_KINDS = {"text": Kind.TEXT, "enum": Kind.ENUM, "number": Kind.NUMBER, "bool": Kind.BOOL, "date": Kind.DATE,
          "names": Kind.PARTICIPANTS}  # fmt: skip
#: The scored fields of each category (SPEC §1 names; `evidence` and the fields code computes excluded).
FIELDS: dict[str, dict[str, Kind]] = {
    c.name: {f: _KINDS[kind] for f, kind in c.kinds.items() if f not in c.computed} for c in CATEGORY.values()
}
#: Fields every gold item must give (the matching keys of SPEC §3); other fields may be left out (not scored).
REQUIRED: dict[str, tuple[str, ...]] = {
    "actors": ("name",),
    "positions": ("holder", "topic", "stance"),
    "demands": ("demander", "demand"),
    "territorial_figures": ("territory", "value", "unit"),
    "upcoming_meetings": ("participants",),
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY)
TOP_LEVEL = frozenset({"article", "published", "summary", *CATEGORIES})

Alternatives = tuple[Any, ...]


class GoldError(InputError):
    """A gold file is missing, unreadable or not in the SPEC §3 format."""

    code = "bad_gold"


@dataclass(frozen=True)
class GoldItem:
    category: str
    index: int
    fields: dict[str, Alternatives]
    evidence: tuple[str, ...]
    optional: bool = False

    def first(self, name: str) -> Any:
        """The preferred (first) alternative of a field, for display."""
        alts = self.fields.get(name, (None,))
        if name == "participants":
            return [p[0] for p in alts[0]] if alts else []
        return alts[0] if alts else None

    def display(self) -> dict[str, Any]:
        return {name: self.first(name) for name in FIELDS[self.category] if name in self.fields}


@dataclass(frozen=True)
class GoldArticle:
    path: Path
    stem: str
    article: str | None
    published: dt.date | None
    summary: str | None
    items: dict[str, tuple[GoldItem, ...]]


def _alternatives(value: Any, kind: Kind, where: str) -> Alternatives:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise GoldError(f"{where}: an empty list of alternatives")
    out: list[Any] = []
    for v in values:
        if v is None:
            out.append(None)
        elif kind is Kind.TEXT and isinstance(v, str | int | float) and not isinstance(v, bool):
            out.append(str(v))
        elif kind is Kind.ENUM:
            allowed = _ENUMS[where.rsplit(".", 1)[-1]]
            if v not in allowed:
                raise GoldError(f"{where}: {v!r} is not one of {list(allowed)}")
            out.append(v)
        elif kind is Kind.NUMBER and isinstance(v, int | float) and not isinstance(v, bool):
            out.append(float(v))
        elif kind is Kind.BOOL and isinstance(v, bool):
            out.append(v)
        elif kind is Kind.DATE and isinstance(v, dt.date | str):
            try:
                out.append(v if isinstance(v, dt.date) else dt.date.fromisoformat(v))
            except ValueError:
                raise GoldError(f"{where}: {v!r} is not an ISO date (YYYY-MM-DD)") from None
        else:
            raise GoldError(f"{where}: {v!r} is not a valid {kind.value} value")
    return tuple(out)


def _participants(value: Any, where: str) -> Alternatives:
    if not isinstance(value, list) or not value:
        raise GoldError(f"{where}: expected a non-empty list of participants")
    each = tuple(_alternatives(p, Kind.TEXT, f"{where}[{i}]") for i, p in enumerate(value))
    if any(None in p for p in each):
        raise GoldError(f"{where}: a participant cannot be null")
    return (each,)


def _item(category: str, index: int, raw: Any, where: str) -> GoldItem:
    if not isinstance(raw, dict):
        raise GoldError(f"{where}: expected a mapping of fields")
    known = set(FIELDS[category]) | {"evidence", "optional"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise GoldError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    missing = [f for f in REQUIRED[category] if f not in raw]
    if missing:
        raise GoldError(f"{where}: missing required field(s) {missing}")
    fields: dict[str, Alternatives] = {}
    for name, kind in FIELDS[category].items():
        if name not in raw:
            continue
        here = f"{where}.{name}"
        fields[name] = (
            _participants(raw[name], here) if kind is Kind.PARTICIPANTS else _alternatives(raw[name], kind, here)
        )
    evidence = raw.get("evidence") or []
    if isinstance(evidence, str):
        evidence = [evidence]
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        raise GoldError(f"{where}.evidence: expected a list of quotes")
    optional = raw.get("optional", False)
    if not isinstance(optional, bool):
        raise GoldError(f"{where}.optional: expected true or false")
    return GoldItem(category, index, fields, tuple(evidence), optional)


def parse_item(category: str, index: int, raw: Any, where: str) -> GoldItem:
    """One gold item of ``category`` as written in a gold file (``where`` names it in errors)."""
    if category not in FIELDS:
        raise GoldError(f"{where}: unknown category {category!r}; known: {list(FIELDS)}")
    return _item(category, index, raw, where)


def parse_gold(path: Path, data: Any) -> GoldArticle:
    name = str(path)
    if not isinstance(data, dict):
        raise GoldError(f"{name}: expected a mapping with article, published and the categories")
    unknown = sorted(set(data) - TOP_LEVEL)
    if unknown:
        raise GoldError(f"{name}: unknown top-level key(s) {unknown}; known: {sorted(TOP_LEVEL)}")
    published = data.get("published")
    if published is not None:
        published = _alternatives(published, Kind.DATE, f"{name}: published")[0]
    article = data.get("article")
    if article is not None and not isinstance(article, str):
        raise GoldError(f"{name}: article must be a path string")
    items: dict[str, tuple[GoldItem, ...]] = {}
    for category in CATEGORIES:
        raw = data.get(category) or []
        if not isinstance(raw, list):
            raise GoldError(f"{name}: {category} must be a list")
        items[category] = tuple(_item(category, i, r, f"{name}: {category}[{i}]") for i, r in enumerate(raw))
    summary = data.get("summary")
    return GoldArticle(path, path.stem, article, published, str(summary) if summary else None, items)


def load_gold_file(path: Path) -> GoldArticle:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GoldError(f"gold file unreadable: {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise GoldError(f"{path}: not valid YAML: {exc}") from exc
    return parse_gold(path, data)


def load_gold_dir(directory: Path) -> list[GoldArticle]:
    """Every `*.yaml`/`*.yml` gold file of a directory, sorted by name."""
    if not directory.is_dir():
        raise GoldError(f"gold directory not found: {directory}", code="not_found")
    files = sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        raise GoldError(f"no gold files (*.yaml) in {directory}", code="not_found")
    return [load_gold_file(p) for p in files]


def default_gold_dir() -> Path:
    """`evals/gold` of the checkout in the working directory, else the copy shipped in the package."""
    local = Path.cwd() / "evals" / "gold"
    if local.is_dir():
        return local
    return Path(str(resources.files("summarizer.evals").joinpath("gold")))


#: The dataset name of the seed articles' gold (``evals/gold``); other datasets live in ``evals/datasets/<name>``.
SEEDS = "seeds"


def _evals_root() -> Path:
    """`evals` of the checkout in the working directory, else the copy shipped in the package."""
    local = Path.cwd() / "evals"
    if (local / "gold").is_dir():
        return local
    return Path(str(resources.files("summarizer.evals")))


def dataset_names() -> list[str]:
    """Every dataset the harness knows by name: ``seeds`` and each ``<name>/<split>`` holding gold files."""
    root = _evals_root() / "datasets"
    found = sorted(
        str(d.relative_to(root))
        for d in root.glob("*/*")
        if d.is_dir() and any(p.suffix in (".yaml", ".yml") for p in d.iterdir())
    )
    return [SEEDS, *found]


def dataset_dir(name: str) -> Path:
    """The gold directory of a named dataset (``seeds``, ``news/dev``, ``news/test``)."""
    if name == SEEDS:
        return default_gold_dir()
    directory = _evals_root() / "datasets" / name
    if ".." in Path(name).parts or not directory.is_dir():
        raise GoldError(f"unknown dataset {name!r}; known: {', '.join(dataset_names())}", code="not_found")
    return directory


ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm")


def resolve_article(gold: GoldArticle, articles_dir: Path | None) -> Path:
    """The article text of a gold file: its `article:` path relative to the gold file, else by name in
    ``articles_dir`` (the `article:` file name, or the gold file's stem with a text or HTML suffix)."""
    tried: list[Path] = []
    if gold.article:
        tried.append((gold.path.parent / gold.article).resolve())
    if articles_dir is not None:
        if gold.article:
            tried.append(articles_dir / Path(gold.article).name)
        tried.extend(articles_dir / (gold.stem + suffix) for suffix in ARTICLE_SUFFIXES)
    for path in tried:
        if path.is_file():
            return path
    hint = "" if articles_dir else " (pass --articles DIR: the directory holding the article texts)"
    raise GoldError(
        f"article for {gold.path} not found; tried: {', '.join(map(str, tried)) or 'nothing'}{hint}", code="not_found"
    )
