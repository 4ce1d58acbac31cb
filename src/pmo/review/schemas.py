"""Prefecture review views."""

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

ReportStatus = Literal["on_time", "late", "missing", "pending"]


class OperationRate(BaseModel):
    operation: str
    completion_rate: float


class ReviewRow(BaseModel):
    body: str
    name: str
    kind: str
    completion_rate: float = Field(description="mean of the operations' 完了率 as of the period")
    change: float = Field(description="completion_rate minus last month's")
    report_status: ReportStatus
    last_reported: str | None
    deferred_systems: int
    operations: list[OperationRate]


class ReviewTable(BaseModel):
    prefecture: str
    prefecture_name: str
    period: str
    due_at: str
    rows: list[ReviewRow]


class Reason(BaseModel):
    code: Literal["behind_plan", "behind_peers", "stalled", "reports", "open_inquiries", "deferred_systems"]
    points: float = Field(description="this reason's contribution to the score")
    message: str
    figures: dict[str, float | int | str | None]


class LastFollowUp(BaseModel):
    held_on: date
    channel: str
    next_check_on: date | None


class LaggingBody(BaseModel):
    rank: int
    body: str
    name: str
    kind: str
    score: float
    completion_rate: float
    call_first: bool = Field(description="within the prefecture's top share by score (thresholds.cut_score)")
    last_follow_up: LastFollowUp | None = Field(description="the newest follow-up the prefecture recorded")
    reasons: list[Reason]


class LaggingList(BaseModel):
    prefecture: str
    period: str
    thresholds: dict[str, float]
    municipalities: int
    scored: int = Field(description="municipalities with at least one reason")
    first: int = Field(description="municipalities to call first (call_first)")
    bodies: list[LaggingBody] = Field(description="those to call first, or with all=true every municipality")


class MissingReport(BaseModel):
    body: str
    name: str
    kind: str
    last_reported: str | None
    months_missing: int = Field(description="consecutive periods up to this one without a report")


class MissingReports(BaseModel):
    prefecture: str
    period: str
    due_at: str
    window_open: bool = Field(description="the period's reports are still within their window (before due_at)")
    expected: int
    pending: list[MissingReport] = Field(description="not reported yet, still within the window")
    missing: list[MissingReport] = Field(description="not reported by the due time")


class OwnMissing(BaseModel):
    body: str
    periods: list[str] = Field(description="periods whose report is overdue and missing, oldest first")
