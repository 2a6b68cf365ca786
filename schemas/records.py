"""Records of SPEC §1 (schema version 1): what the model fills, and what code adds afterwards.

Every string and list is bounded so that grammar-constrained decoding of a small model always terminates.
Field descriptions are the instructions the model reads: prompts render them, so they are the one source
of truth for what each field means. Territorial figures and meetings put ``evidence`` first and list every key
as required: the model first copies the sentence that states the item, then fills the number, unit, place or
time from it (with evidence last and optional keys, the default model left them out).
"""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1"

ActorKind = Literal["person", "state", "government", "organization", "armed_group", "other"]
Measure = Literal["share_controlled", "area_controlled", "area_gained", "area_lost", "area_claimed", "other"]
Unit = Literal["percent", "km2", "sq_mi", "count"]
MeetingStatus = Literal["scheduled", "expected", "proposed", "postponed"]

Quote = Annotated[str, Field(min_length=2, max_length=300)]


def _evidence(description: str) -> Any:
    """One or two quotes per item: the list is bounded so that constrained decoding always closes it."""
    return Field(min_length=1, max_length=2, description=description)


Evidence = Annotated[
    list[Quote], _evidence("One or two short quotes copied word for word from the article that state this item.")
]
#: Evidence of a territorial figure or a meeting: the whole clause or sentence, from which the model then takes the
#: number, unit, place or time.
SentenceEvidence = Annotated[
    list[Quote], _evidence("The clause or sentence that states this item, copied word for word from the article.")
]


class NameMarker:
    """Marks a field that names a person, body or place as the article gives it, not in the model's own words."""

    def __repr__(self) -> str:
        return "NAME"


NAME = NameMarker()
Name = Annotated[str, Field(min_length=1, max_length=80), NAME]
Short = Annotated[str, Field(min_length=1, max_length=160)]


_JSON_SCHEMAS: dict[tuple[Any, ...], str] = {}


def _every_key_required(schema: dict[str, Any]) -> None:
    """Every key is emitted (nullable ones as null), so the JSON schema lists them all as required.

    This is also what grammar-constrained decoding reads: with optional keys, a small model may close the object
    early and skip the number, unit or place it had just quoted; with every key required it must decide.
    """
    if "properties" in schema:
        schema["required"] = list(schema["properties"])


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """The JSON schema, built once per class and options (pydantic rebuilds it on every call).

        Model calls send it with every request; each caller gets its own copy, decoded from the cached text.
        """
        key = (cls, args, tuple(sorted(kwargs.items())))
        text = _JSON_SCHEMAS.get(key)
        if text is None:
            text = _JSON_SCHEMAS[key] = json.dumps(super().model_json_schema(*args, **kwargs))
        schema: dict[str, Any] = json.loads(text)
        return schema


class Actor(Record):
    name: Name = Field(description="Fullest form of the name in the article, e.g. 'Vladimir Putin'.")
    kind: ActorKind = Field(description="person, state, government, organization, armed_group or other.")
    affiliation: Name | None = Field(None, description="Country or body the actor belongs to, or null.")
    role: Short | None = Field(None, description="Title or role as the article gives it, or null.")
    evidence: Evidence


class Position(Record):
    holder: Name = Field(description="Who holds the view (person, government or body), full name.")
    topic: Short = Field(description="What the view is about, in a few words.")
    stance: Annotated[str, Field(min_length=1, max_length=220)] = Field(
        description="The holder's view in at most 30 words, neutral wording."
    )
    evidence: Evidence


class Demand(Record):
    demander: Name = Field(description="Who demands, insists or requires something.")
    addressee: Name | None = Field(None, description="Who is asked to act, or null.")
    demand: Short = Field(description="What must happen, in a few words.")
    consequence: Short | None = Field(
        None, description="What is threatened or promised if the demand is unmet or met, or null."
    )
    evidence: Evidence


class TerritorialFigureDraft(Record):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_every_key_required)

    evidence: SentenceEvidence
    territory: Name = Field(description="The place measured, e.g. 'Ukraine' or 'Donetsk region'.")
    controller: Name | None = Field(None, description="Who controls, gained or claims it, or null.")
    measure: Measure = Field(
        description="share_controlled (a percent held), area_controlled, area_gained, area_lost, "
        "area_claimed, or other."
    )
    value: float | None = Field(
        None, description="The number in the evidence: 12 for 'about 12%', 40 for '40 square miles'."
    )
    unit: Unit | None = Field(
        None, description="percent for %, sq_mi for square miles, km2 for square kilometres, count for a number."
    )
    approximate: bool = Field(description="true if the article says about, approximately, nearly, some.")
    period: Short | None = Field(None, description="The time span of a change, e.g. 'since August', or null.")
    attributed_to: Name | None = Field(
        None, description="Who states the figure, if the article attributes it to someone; else null."
    )


class TerritorialFigure(TerritorialFigureDraft):
    value_km2: float | None = Field(None, description="Area in km², derived by code from value and unit.")


class MeetingDraft(Record):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_every_key_required)

    evidence: SentenceEvidence
    participants: Annotated[list[Name], Field(min_length=1, max_length=6)] = Field(
        description="Who will meet (people, delegations or countries)."
    )
    location: Name | None = Field(None, description="City or place where they will meet, as the evidence says.")
    when_text: Short | None = Field(None, description="When, copied as the evidence says it, e.g. 'next week'.")
    purpose: Short | None = Field(None, description="What the meeting is for, or null.")
    status: MeetingStatus = Field(description="scheduled, expected, proposed or postponed.")


class Meeting(MeetingDraft):
    date_from: date | None = Field(None, description="First possible day, resolved by code from when_text.")
    date_to: date | None = Field(None, description="Last possible day, resolved by code from when_text.")


class ArticleSummary(Record):
    summary: Annotated[str, Field(max_length=600)] = Field(description="1-3 neutral sentences.")
    actors: list[Actor] = Field(default_factory=list)
    positions: list[Position] = Field(default_factory=list)
    demands: list[Demand] = Field(default_factory=list)
    territorial_figures: list[TerritorialFigure] = Field(default_factory=list)
    upcoming_meetings: list[Meeting] = Field(default_factory=list)
