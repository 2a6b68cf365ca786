"""What each record category is, in one place: its record, the call that answers it, the fields that make two
records the same, the fields that name its actor and state its content, how it is shown. Every other table of
categories (dedupe, support checks, display, gold files, scoring, reports) is derived from this one."""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from .records import NAME, Actor, Demand, Meeting, Position, Record, TerritorialFigure

FieldKind = Literal["text", "enum", "number", "bool", "names", "date"]


@dataclass(frozen=True)
class Category:
    name: str
    #: Heading of its section, as a sentence starts ("Territorial figures").
    title: str
    #: One letter that stands for it where space is short (report highlights).
    letter: str
    #: The record code returns (derived fields included).
    record: type[Record]
    #: The model call whose answer holds it.
    call: str
    #: Fields that make two records the same record (merging; SPEC §3 matches on the same fields).
    keys: tuple[str, ...]
    #: Columns of a table of these records.
    columns: tuple[str, ...]
    #: Who holds, makes or attends it: checked against its quote.
    actor: str | None = None
    #: What it says in the model's words (a stance, a demand): checked against its quote.
    content: str | None = None
    #: A claim about the world, checked against its quotes and counted in the headline scores (actors are names).
    claim: bool = True
    #: Fields code computes that gold answers do not give (they follow from labelled fields).
    computed: tuple[str, ...] = ()
    #: Fields of the record other than its evidence, and the kind of value each holds.
    kinds: dict[str, FieldKind] = field(init=False)
    #: Fields that name a person, body or place as the article gives it (``Name`` in the record).
    name_fields: tuple[str, ...] = field(init=False)
    #: The values each enum field allows.
    choices: dict[str, tuple[str, ...]] = field(init=False)

    def __post_init__(self) -> None:
        fields = {k: f for k, f in self.record.model_fields.items() if k != "evidence"}
        object.__setattr__(self, "kinds", {k: _kind(f.annotation) for k, f in fields.items()})
        names = tuple(k for k, f in fields.items() if NAME in f.metadata or _has_name(f.annotation))
        object.__setattr__(self, "name_fields", names)
        choices = {k: _literal(f.annotation) for k, f in fields.items() if self.kinds[k] == "enum"}
        object.__setattr__(self, "choices", choices)


def _has_name(annotation: Any) -> bool:
    if get_origin(annotation) is Annotated:
        return NAME in annotation.__metadata__ or _has_name(get_args(annotation)[0])
    return any(_has_name(a) for a in get_args(annotation))


def _literal(annotation: Any) -> tuple[str, ...]:
    while get_origin(annotation) is not Literal:
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    return get_args(annotation)


def _kind(annotation: Any) -> FieldKind:
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
        return _kind(annotation)
    if get_origin(annotation) is Literal:
        return "enum"
    if get_origin(annotation) is list:
        return "names"
    if annotation is bool:
        return "bool"
    if annotation in (int, float):
        return "number"
    if annotation is date:
        return "date"
    return "text"


CATEGORY: dict[str, Category] = {
    c.name: c
    for c in (
        Category(
            "actors", "Actors", "A", Actor, "overview", keys=("name",),
            columns=("name", "kind", "affiliation", "role"), claim=False,
        ),
        Category(
            "positions", "Positions", "P", Position, "positions", keys=("holder", "topic", "stance"),
            columns=("holder", "topic", "stance"), actor="holder", content="stance",
        ),
        Category(
            "demands", "Demands", "D", Demand, "demands", keys=("demander", "demand"),
            columns=("demander", "addressee", "demand", "consequence"), actor="demander", content="demand",
        ),
        Category(
            "territorial_figures", "Territorial figures", "F", TerritorialFigure, "territorial_figures",
            keys=("territory", "measure", "value", "unit"),
            columns=("territory", "controller", "measure", "value", "unit", "value_km2", "period", "attributed_to"),
            computed=("value_km2",),
        ),
        Category(
            "upcoming_meetings", "Upcoming meetings", "M", Meeting, "upcoming_meetings",
            keys=("participants", "location", "when_text"),
            columns=("participants", "location", "when_text", "date_from", "date_to", "status"),
            actor="participants",
        ),
    )
}  # fmt: skip
#: Every category, in the order of the output.
CATEGORIES: tuple[str, ...] = tuple(CATEGORY)
#: The categories that are claims: checked against their quotes and scored in the headline figures.
CLAIMS: tuple[str, ...] = tuple(c.name for c in CATEGORY.values() if c.claim)


def category_of(item: Record) -> Category:
    """The category of a record, or of the draft the model answers before code adds derived fields."""
    for category in CATEGORY.values():
        if isinstance(item, category.record) or issubclass(category.record, type(item)):
            return category
    raise TypeError(f"{type(item).__name__} is not a record of any category")
