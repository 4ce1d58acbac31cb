"""Adviser support payloads and views."""

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pmo.periods import PlausibleDate
from pmo.text import MultiLine, SingleLine

State = Literal["requested", "assigned", "visiting", "completed", "cancelled"]
VisitMode = Literal["onsite", "online"]
STATE_LABELS = {
    "requested": "依頼受付",
    "assigned": "アドバイザー決定",
    "visiting": "派遣中",
    "completed": "完了",
    "cancelled": "取り下げ",
}
MODE_LABELS = {"onsite": "訪問", "online": "オンライン"}


class AdviserRequestIn(BaseModel):
    """What the body (or its prefecture) asks an adviser for."""

    model_config = ConfigDict(extra="forbid")

    topic: Annotated[str, Field(min_length=1, max_length=200, examples=["移行計画の見直しとベンダー調整"]), SingleLine]
    detail: Annotated[str | None, Field(max_length=4000), MultiLine] = None
    operations: Annotated[list[str], Field(max_length=20, description="operation codes the advice concerns")] = []
    follow_up_id: int | None = Field(
        None, ge=1, le=2_147_483_647, description="the prefecture's follow-up this request comes from"
    )


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    adviser: Annotated[str, Field(min_length=1, max_length=120, description="who goes"), SingleLine]


class VisitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    visited_on: PlausibleDate
    mode: VisitMode
    summary: Annotated[str, Field(min_length=1, max_length=4000, description="what was advised and found"), MultiLine]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[str | None, Field(max_length=4000), MultiLine] = None


class VisitOut(BaseModel):
    id: int
    visited_on: date
    mode: VisitMode
    summary: str
    recorded_by: str


class AdviserRequestOut(BaseModel):
    id: int
    body: str
    body_name: str
    prefecture: str
    requested_by: str
    requester_role: str
    follow_up_id: int | None
    topic: str
    detail: str | None
    operations: list[str]
    state: State
    state_label: str
    adviser: str | None
    outcome: str | None
    created_at: datetime
    updated_at: datetime
    visits: list[VisitOut]
