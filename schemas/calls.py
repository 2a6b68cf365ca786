"""What one model call fills: a small schema per category keeps each grammar short and each task focused."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .records import Actor, Demand, MeetingDraft, Position, Record, TerritorialFigureDraft


class OverviewCall(Record):
    """Summary and the actors named in the article."""

    summary: Annotated[str, Field(min_length=1, max_length=600)] = Field(
        description="1-3 neutral sentences: who did or said what, and what is at stake."
    )
    actors: Annotated[list[Actor], Field(max_length=10)] = Field(
        description="People, states, governments, organizations and armed groups that act or speak."
    )


class PositionsCall(Record):
    """Views held by actors."""

    positions: Annotated[list[Position], Field(max_length=8)] = Field(
        description="Each view, assessment or stance an actor expresses; an empty list if none."
    )


class DemandsCall(Record):
    """Demands made by actors."""

    demands: Annotated[list[Demand], Field(max_length=8)] = Field(
        description="Each thing an actor demands, insists on or requires of another; an empty list if none."
    )


class FiguresCall(Record):
    """Numbers about territory."""

    territorial_figures: Annotated[list[TerritorialFigureDraft], Field(max_length=6)] = Field(
        description="Each number about territory held, gained, lost or claimed; an empty list if none."
    )


class MeetingsCall(Record):
    """Meetings that have not happened yet."""

    upcoming_meetings: Annotated[list[MeetingDraft], Field(max_length=4)] = Field(
        description="Each meeting, visit or talks still to come; not ones already held; empty list if none."
    )


#: Call name -> response model, in the order the pipeline runs them.
CALLS: dict[str, type[Record]] = {
    "overview": OverviewCall,
    "positions": PositionsCall,
    "demands": DemandsCall,
    "territorial_figures": FiguresCall,
    "upcoming_meetings": MeetingsCall,
}
